//! Job states this process saw recently, kept to save store reads on the hot path:
//!
//! - **claimed**: the job as a claim left it, by task id. When that task's result comes
//!   back (usually to the orchestrator that handed it out) the engine commits against
//!   this state instead of reading the job again. Any change since (cancel, another
//!   claim, an expired lease) bumped the job's version, so the commit is refused and the
//!   engine falls back to a fresh read: a stale entry costs a retry, never a wrong write.
//! - **ended**: the final state of jobs that just ended here, by job id, for clients
//!   waiting on `GET /api/v1/jobs/{id}?wait=`.
//!
//! - **live**: jobs created here that have not ended as far as this process heard (job
//!   ends arrive as notices from every orchestrator). A client that waits on one of them
//!   right after creating it needs no read: it just waits for the end. The set is only
//!   trusted while the notice stream is unbroken: a resync (lost notices) bumps an epoch
//!   and older entries are no longer believed.
//!
//! All are bounded: the oldest entries go first.

use baton_store::StoredJob;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

const CAPACITY: usize = 16_384;

struct Bounded {
    map: HashMap<String, StoredJob>,
    order: VecDeque<String>,
}

impl Bounded {
    fn new() -> Bounded {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, key: String, job: StoredJob) {
        if self.map.insert(key.clone(), job).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > CAPACITY {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        // Keys taken out early leave stale names in `order`; drop them now and then.
        if self.order.len() > 2 * CAPACITY {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
    }
}

pub struct Snapshots {
    claimed: Mutex<Bounded>,
    ended: Mutex<Bounded>,
    live: Mutex<LiveSet>,
    epoch: AtomicU64,
}

#[derive(Default)]
struct LiveSet {
    /// job id → notice epoch at creation.
    map: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots {
            claimed: Mutex::new(Bounded::new()),
            ended: Mutex::new(Bounded::new()),
            live: Mutex::new(LiveSet::default()),
            epoch: AtomicU64::new(0),
        }
    }
}

impl Snapshots {
    pub fn claimed(&self, task_id: &str, job: StoredJob) {
        self.claimed.lock().insert(task_id.to_string(), job);
    }

    pub fn take_claimed(&self, task_id: &str) -> Option<StoredJob> {
        self.claimed.lock().map.remove(task_id)
    }

    pub fn ended(&self, job: StoredJob) {
        self.ended.lock().insert(job.id.clone(), job);
    }

    pub fn get_ended(&self, job_id: &str) -> Option<StoredJob> {
        self.ended.lock().map.get(job_id).cloned()
    }

    /// The job's end is void (it runs again): its end is no longer served from here.
    pub fn forget_ended(&self, job_id: &str) {
        self.ended.lock().map.remove(job_id);
    }

    /// A job was created here (and has not ended).
    pub fn created(&self, job_id: &str) {
        let epoch = self.epoch.load(Ordering::Acquire);
        let mut live = self.live.lock();
        if live.map.insert(job_id.to_string(), epoch).is_none() {
            live.order.push_back(job_id.to_string());
        }
        while live.map.len() > CAPACITY {
            match live.order.pop_front() {
                Some(old) => {
                    live.map.remove(&old);
                }
                None => break,
            }
        }
        if live.order.len() > 2 * CAPACITY {
            let LiveSet { map, order } = &mut *live;
            order.retain(|k| map.contains_key(k));
        }
    }

    /// A job ended (here or, by notice, anywhere).
    pub fn done(&self, job_id: &str) {
        self.live.lock().map.remove(job_id);
    }

    /// Notices may have been lost: stop trusting what `live` says.
    pub fn resync(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets everything (the store was emptied).
    pub fn clear(&self) {
        *self.claimed.lock() = Bounded::new();
        *self.ended.lock() = Bounded::new();
        *self.live.lock() = LiveSet::default();
        self.resync();
    }

    /// Whether `job_id` was created here and surely has not ended yet.
    pub fn surely_live(&self, job_id: &str) -> bool {
        let epoch = self.epoch.load(Ordering::Acquire);
        self.live.lock().map.get(job_id) == Some(&epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> StoredJob {
        StoredJob {
            id: id.into(),
            version: 1,
            status: "finished".into(),
            doc: "{}".into(),
            progress: None,
            tasks: Default::default(),
        }
    }

    #[test]
    fn entries_are_bounded_and_taken_once() {
        let s = Snapshots::default();
        s.claimed("t1", job("j1"));
        assert_eq!(s.take_claimed("t1").map(|j| j.id), Some("j1".to_string()));
        assert!(s.take_claimed("t1").is_none());
        for i in 0..(CAPACITY + 10) {
            s.ended(job(&format!("j{i}")));
        }
        assert!(s.get_ended("j0").is_none(), "oldest evicted");
        assert!(s.get_ended(&format!("j{}", CAPACITY + 9)).is_some());
        assert!(s.ended.lock().map.len() <= CAPACITY);
    }

    #[test]
    fn live_jobs_are_trusted_until_they_end_or_notices_are_lost() {
        let s = Snapshots::default();
        s.created("a");
        s.created("b");
        assert!(s.surely_live("a"));
        s.done("a");
        assert!(!s.surely_live("a"));
        assert!(!s.surely_live("never-seen"));
        s.resync();
        assert!(!s.surely_live("b"), "created before lost notices");
        s.created("c");
        assert!(s.surely_live("c"));
        s.ended(job("e"));
        s.clear();
        assert!(!s.surely_live("c"));
        assert!(s.get_ended("e").is_none());
    }
}
