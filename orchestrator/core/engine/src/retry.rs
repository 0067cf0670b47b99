//! The read–decide–commit loop every change of a job goes through: read the job, decide
//! what changes, commit it on the condition that the job is still the version read. When
//! another writer (a worker's result, the reaper, another orchestrator) committed first,
//! the round is lost and runs again on the new version, a bounded number of times.
//!
//! One helper, so the bound and what happens when it is reached are stated once per
//! caller: a request answers 409 and is retried by its sender; a timer returns "not
//! applied" and stays due, so a later reaper pass fires it again.

use crate::EngineError;

/// Rounds before giving up: contention on one job is a handful of writers at most.
pub(crate) const COMMIT_ATTEMPTS: usize = 16;

/// How a round ended.
pub(crate) enum Round<T> {
    /// Decided (committed, or nothing to do): the loop's answer.
    Done(T),
    /// Another writer committed first: read again.
    Lost,
}

/// `until_committed!({ round }, exhausted)`: runs the `round` block (an async block:
/// its `return` ends the round, `?` the loop) until it yields [`Round::Done`], at most
/// [`COMMIT_ATTEMPTS`] times; then evaluates to `exhausted`. A macro, not a function
/// taking an async closure, because the futures of async closures are not yet provably
/// `Send` where the reaper spawns them.
macro_rules! until_committed {
    ($round:block, $exhausted:expr) => {{
        let mut answer = None;
        for _ in 0..$crate::retry::COMMIT_ATTEMPTS {
            let round: Result<$crate::retry::Round<_>, $crate::EngineError> = async $round.await;
            if let $crate::retry::Round::Done(done) = round? {
                answer = Some(done);
                break;
            }
        }
        match answer {
            Some(done) => Ok(done),
            None => $exhausted,
        }
    }};
}
pub(crate) use until_committed;

/// The answer of a request whose job kept changing under it.
pub(crate) fn too_fast<T>(what: &str) -> Result<T, EngineError> {
    Err(EngineError::Conflict(format!(
        "job is changing too fast; {what}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count_rounds(done_at: usize) -> Result<usize, EngineError> {
        let mut rounds = 0;
        until_committed!(
            {
                rounds += 1;
                if rounds < done_at {
                    return Ok(Round::Lost);
                }
                Ok(Round::Done(rounds))
            },
            too_fast("retry the result")
        )
    }

    #[tokio::test]
    async fn lost_rounds_run_again_until_done_or_the_bound() {
        assert!(matches!(count_rounds(3).await, Ok(3)));
        let exhausted = count_rounds(COMMIT_ATTEMPTS + 1).await;
        assert!(
            matches!(&exhausted, Err(EngineError::Conflict(m)) if m.ends_with("retry the result")),
            "{exhausted:?}"
        );
    }
}
