//! The registry of waiting long-polls.
//!
//! Idle pollers cost no store connection: each waits on its own [`Waiter`], filed under
//! every skill it can run, in arrival order (`BTreeMap` keyed by a rising id). A notice
//! that a skill got a task fires the oldest armed waiter of that skill, which then tries a
//! claim. Lost wake-ups are what stall queues, so the rules are:
//!
//! - a poller registers *before* its first claim, so a task queued in between fires it;
//! - a fired waiter is taken out of every skill map at once (it is no longer waiting);
//! - a poller that was fired but goes away without claiming (deadline, disconnect) passes
//!   the wake-up on to the next waiter of its skills when its guard drops.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub struct Waiter {
    id: u64,
    skills: Vec<String>,
    fired: AtomicBool,
    notify: Notify,
}

#[derive(Default)]
pub struct Waiters {
    by_skill: Mutex<HashMap<String, BTreeMap<u64, Arc<Waiter>>>>,
    next_id: AtomicU64,
}

impl Waiters {
    pub fn new() -> Arc<Waiters> {
        Arc::new(Waiters::default())
    }

    /// Files a new waiter under `skills`.
    pub fn register(self: &Arc<Self>, skills: &[String]) -> WaitGuard {
        let waiter = Arc::new(Waiter {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            skills: skills.to_vec(),
            fired: AtomicBool::new(false),
            notify: Notify::new(),
        });
        self.insert(&waiter);
        WaitGuard {
            waiters: self.clone(),
            waiter,
            consumed: false,
        }
    }

    fn insert(&self, waiter: &Arc<Waiter>) {
        let mut map = self.by_skill.lock();
        for skill in &waiter.skills {
            map.entry(skill.clone())
                .or_default()
                .insert(waiter.id, waiter.clone());
        }
    }

    fn remove_locked(map: &mut HashMap<String, BTreeMap<u64, Arc<Waiter>>>, waiter: &Waiter) {
        for skill in &waiter.skills {
            if let Some(queue) = map.get_mut(skill) {
                queue.remove(&waiter.id);
                if queue.is_empty() {
                    map.remove(skill);
                }
            }
        }
    }

    /// Fires the oldest armed waiter of `skill`; false if none waits.
    pub fn wake_one(&self, skill: &str) -> bool {
        let mut map = self.by_skill.lock();
        loop {
            let Some(waiter) = map.get(skill).and_then(|q| q.values().next().cloned()) else {
                return false;
            };
            Self::remove_locked(&mut map, &waiter);
            if !waiter.fired.swap(true, Ordering::AcqRel) {
                waiter.notify.notify_one();
                return true;
            }
        }
    }

    /// Fires every waiter (after notices may have been missed).
    pub fn wake_all(&self) {
        let mut map = self.by_skill.lock();
        for queue in map.drain().map(|(_, q)| q) {
            for waiter in queue.into_values() {
                if !waiter.fired.swap(true, Ordering::AcqRel) {
                    waiter.notify.notify_one();
                }
            }
        }
    }

    /// Skills somebody is waiting for.
    pub fn waiting_skills(&self) -> Vec<String> {
        self.by_skill.lock().keys().cloned().collect()
    }

    /// Number of armed waiters of `skill`.
    pub fn waiting(&self, skill: &str) -> usize {
        self.by_skill
            .lock()
            .get(skill)
            .map(BTreeMap::len)
            .unwrap_or(0)
    }
}

/// A poller's registration; dropping it unregisters (and passes on an unused wake-up).
pub struct WaitGuard {
    waiters: Arc<Waiters>,
    waiter: Arc<Waiter>,
    consumed: bool,
}

impl WaitGuard {
    /// Waits until fired. Returns at once if fired since the last [`WaitGuard::rearm`].
    pub async fn fired(&self) {
        self.waiter.notify.notified().await;
    }

    /// After a fired wait that claimed nothing: wait again, keeping the place in line.
    pub fn rearm(&mut self) {
        if self.waiter.fired.swap(false, Ordering::AcqRel) {
            self.waiters.insert(&self.waiter);
        }
    }

    /// The poller got a task: a wake-up it holds was used.
    pub fn consume(&mut self) {
        self.consumed = true;
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let fired = {
            let mut map = self.waiters.by_skill.lock();
            Waiters::remove_locked(&mut map, &self.waiter);
            self.waiter.fired.swap(true, Ordering::AcqRel)
        };
        if fired && !self.consumed {
            for skill in &self.waiter.skills {
                if self.waiters.wake_one(skill) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn skills(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[tokio::test]
    async fn oldest_waiter_is_fired_once() {
        let w = Waiters::new();
        let first = w.register(&skills(&["a", "b"]));
        let second = w.register(&skills(&["a"]));
        assert!(w.wake_one("b"));
        tokio::time::timeout(Duration::from_millis(100), first.fired())
            .await
            .unwrap();
        assert_eq!(w.waiting("a"), 1, "a fired waiter leaves every skill");
        assert!(w.wake_one("a"));
        tokio::time::timeout(Duration::from_millis(100), second.fired())
            .await
            .unwrap();
        assert!(!w.wake_one("a"));
    }

    #[tokio::test]
    async fn a_dropped_fired_waiter_passes_the_wakeup_on() {
        let w = Waiters::new();
        let gone = w.register(&skills(&["a"]));
        let next = w.register(&skills(&["a"]));
        assert!(w.wake_one("a"));
        drop(gone);
        tokio::time::timeout(Duration::from_millis(100), next.fired())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_consumed_wakeup_is_not_passed_on_and_rearm_waits_again() {
        let w = Waiters::new();
        let mut got = w.register(&skills(&["a"]));
        let other = w.register(&skills(&["a"]));
        assert!(w.wake_one("a"));
        got.fired().await;
        got.rearm();
        assert_eq!(w.waiting("a"), 2);
        assert!(w.wake_one("a"));
        got.fired().await;
        got.consume();
        drop(got);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other.fired())
                .await
                .is_err()
        );
        assert_eq!(w.waiting("a"), 1);
    }

    #[tokio::test]
    async fn wake_all_fires_everyone() {
        let w = Waiters::new();
        let a = w.register(&skills(&["a"]));
        let b = w.register(&skills(&["b"]));
        w.wake_all();
        a.fired().await;
        b.fired().await;
        assert!(w.waiting_skills().is_empty());
    }
}
