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

    /// Takes `member` alone if it is due, like [`ZSet::claim_due`]; whether it was.
    pub fn claim_one(
        &mut self,
        member: &str,
        now_ms: i64,
        visibility: std::time::Duration,
    ) -> bool {
        let due = matches!(self.scores.get(member), Some(s) if *s <= now_ms as f64);
        if due {
            self.insert(member, (now_ms + visibility.as_millis() as i64) as f64);
        }
        due
    }

    pub fn contains(&self, member: &str) -> bool {
        self.scores.contains_key(member)
    }

    /// Members and scores, highest first (ZREVRANGE order).
    pub fn iter_rev(&self) -> impl Iterator<Item = (f64, &str)> {
        self.ordered.iter().rev().map(|(s, m)| (s.0, m.as_str()))
    }

    /// The first member of each distinct score, lowest score first: one tree lookup per
    /// score, however many members share it.
    pub fn band_heads(&self) -> impl Iterator<Item = (f64, &str)> {
        let mut next = self.ordered.first();
        std::iter::from_fn(move || {
            let (score, member) = next?;
            next = successor(score.0)
                .and_then(|after| self.ordered.range((Score(after), String::new())..).next());
            Some((score.0, member.as_str()))
        })
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Members ordered before (`score`, `member`) (or all when `None`), highest first:
    /// a reverse walk from a cursor, as ZREVRANGEBYSCORE orders ties (by member).
    pub fn rev_before(
        &self,
        from: Option<(f64, &str)>,
    ) -> Box<dyn Iterator<Item = (f64, &str)> + '_> {
        match from {
            Some((score, member)) => Box::new(
                self.ordered
                    .range(..(Score(score), member.to_string()))
                    .rev()
                    .map(|(s, m)| (s.0, m.as_str())),
            ),
            None => Box::new(self.iter_rev()),
        }
    }

    /// How many members score within `min..=max` (ZCOUNT).
    pub fn count_between(&self, min: f64, max: f64) -> u64 {
        self.ordered
            .range((Score(min), String::new())..)
            .take_while(|(s, _)| s.0 <= max)
            .count() as u64
    }
}

/// The next `f64` in `total_cmp` order (`None` after the largest NaN). Maps the value to
/// the integer whose order `total_cmp` uses, adds one and maps back (the map is its own
/// inverse).
fn successor(x: f64) -> Option<f64> {
    let key = |bits: i64| bits ^ ((((bits >> 63) as u64) >> 1) as i64);
    let next = key(x.to_bits() as i64).checked_add(1)?;
    Some(f64::from_bits(key(next) as u64))
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
        assert_eq!(
            z.iter_rev().map(|(_, m)| m).collect::<Vec<_>>(),
            vec!["c", "b"]
        );
    }

    #[test]
    fn band_heads_take_the_first_member_of_each_score() {
        let mut z = ZSet::default();
        assert_eq!(z.band_heads().count(), 0);
        for (m, s) in [("b", 1.0), ("a", 1.0), ("z", -0.0), ("y", 0.0), ("c", -5.0)] {
            z.insert(m, s);
        }
        z.insert("d", 1.5);
        let heads: Vec<&str> = z.band_heads().map(|(_, m)| m).collect();
        // -0.0 and 0.0 are distinct scores under total_cmp, as the set orders them.
        assert_eq!(heads, vec!["c", "z", "y", "a", "d"]);
        assert_eq!(successor(-0.0).map(f64::to_bits), Some(0));
        assert_eq!(successor(1.0), Some(1.0 + f64::EPSILON));
        assert_eq!(successor(-1.0).map(|x| x > -1.0), Some(true));
    }
}
