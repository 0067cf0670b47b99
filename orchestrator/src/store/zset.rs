//! A sorted set with Redis ZSET semantics (score, then member), for the in-memory store.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// An `f64` ordered by `total_cmp`, so it can key a `BTreeSet`.
#[derive(Debug, Clone, Copy)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Default)]
pub struct ZSet {
    ordered: BTreeSet<(Score, String)>,
    scores: HashMap<String, f64>,
}

impl ZSet {
    /// Adds or moves `member`.
    pub fn insert(&mut self, member: &str, score: f64) {
        self.remove(member);
        self.ordered.insert((Score(score), member.to_string()));
        self.scores.insert(member.to_string(), score);
    }

    /// Moves `member` only if present (ZADD XX).
    pub fn update_existing(&mut self, member: &str, score: f64) {
        if self.scores.contains_key(member) {
            self.insert(member, score);
        }
    }

    pub fn remove(&mut self, member: &str) -> bool {
        match self.scores.remove(member) {
            Some(old) => {
                self.ordered.remove(&(Score(old), member.to_string()));
                true
            }
            None => false,
        }
    }

    pub fn first(&self) -> Option<(f64, &str)> {
        self.ordered.first().map(|(s, m)| (s.0, m.as_str()))
    }

    /// Members with score ≤ `max`, lowest first, at most `limit`.
    pub fn up_to(&self, max: f64, limit: usize) -> Vec<String> {
        self.ordered
            .iter()
            .take_while(|(s, _)| s.0 <= max)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Members due by `now_ms` (scores are epoch ms), at most `limit`, moved out of sight
    /// for `visibility` (claim_due.lua).
    pub fn claim_due(
        &mut self,
        now_ms: i64,
        limit: usize,
        visibility: std::time::Duration,
    ) -> Vec<String> {
        let due = self.up_to(now_ms as f64, limit);
        let hidden_until = (now_ms + visibility.as_millis() as i64) as f64;
        for m in &due {
            self.insert(m, hidden_until);
        }
        due
    }

    #[cfg(test)]
    pub fn contains(&self, member: &str) -> bool {
        self.scores.contains_key(member)
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_member() {
        let mut z = ZSet::default();
        z.insert("b", 1.0);
        z.insert("a", 1.0);
        z.insert("c", -5.0);
        assert_eq!(z.first(), Some((-5.0, "c")));
        z.insert("c", 3.0);
        assert_eq!(z.up_to(2.0, 10), vec!["a", "b"]);
        z.update_existing("zz", 0.0);
        assert!(!z.contains("zz"));
        assert!(z.remove("a"));
        assert_eq!(z.len(), 2);
    }
}
