//! A circuit breaker in front of the AI endpoint: after `failures` calls in a row fail
//! (the endpoint unreachable, 429 or 5xx), it opens and AI steps fail at once, without
//! calling, for `cool_down`; then one trial call is let through (half open): its success
//! closes the circuit, its failure opens it again. A 4xx other than 429 is the request's
//! fault, not the endpoint's, and counts as neither.
//!
//! Every AI step's answer (and its error's details) carries [`Breaker::report`], which the
//! workflow face keeps for `/health/full`.

use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `WORKFLOW_AI_CIRCUIT_FAILURES` / `WORKFLOW_AI_CIRCUIT_COOLDOWN_SECONDS`.
#[derive(Debug, Clone, Copy)]
pub struct CircuitSettings {
    pub failures: u32,
    pub cool_down: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings {
            failures: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { trial_out: bool },
}

/// The breaker of one endpoint.
#[derive(Debug)]
pub struct Breaker {
    settings: CircuitSettings,
    engine: String,
    endpoint: String,
    inner: Mutex<(State, u32)>,
}

impl Breaker {
    pub fn new(settings: CircuitSettings, engine: &str, endpoint: &str) -> Breaker {
        Breaker {
            settings,
            engine: engine.to_string(),
            endpoint: endpoint.to_string(),
            inner: Mutex::new((State::Closed, 0)),
        }
    }

    /// Whether a call may go out now; the error says why not.
    pub fn admit(&self) -> Result<(), String> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match g.0 {
            State::Closed => Ok(()),
            State::Open { until } if Instant::now() < until => Err(format!(
                "the AI endpoint's circuit is open after {} failures in a row: calls resume in {} s",
                g.1,
                until.saturating_duration_since(Instant::now()).as_secs() + 1
            )),
            State::Open { .. } | State::HalfOpen { trial_out: false } => {
                g.0 = State::HalfOpen { trial_out: true };
                Ok(())
            }
            State::HalfOpen { trial_out: true } => {
                Err("the AI endpoint's circuit is half open and its trial call is out".into())
            }
        }
    }

    /// The outcome of a call that went out: `Some(true)` it worked, `Some(false)` the
    /// endpoint failed, `None` neither (the request was refused on its own merits).
    pub fn record(&self, outcome: Option<bool>) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Some(true) => *g = (State::Closed, 0),
            Some(false) => {
                g.1 = g.1.saturating_add(1);
                let trial = matches!(g.0, State::HalfOpen { .. });
                if trial || g.1 >= self.settings.failures {
                    g.0 = State::Open {
                        until: Instant::now() + self.settings.cool_down,
                    };
                }
            }
            None => {
                if matches!(g.0, State::HalfOpen { .. }) {
                    g.0 = State::HalfOpen { trial_out: false };
                }
            }
        }
    }

    /// `{"engine", "endpoint", "state", "failure_count"}`.
    pub fn report(&self) -> Value {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let state = match g.0 {
            State::Closed => "closed",
            State::Open { until } if Instant::now() < until => "open",
            State::Open { .. } | State::HalfOpen { .. } => "half_open",
        };
        json!({"engine": self.engine, "endpoint": self.endpoint, "state": state, "failure_count": g.1})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_then_lets_one_trial_through() {
        let b = Breaker::new(
            CircuitSettings {
                failures: 2,
                cool_down: Duration::from_millis(40),
            },
            "openai",
            "http://x",
        );
        b.record(Some(false));
        assert!(b.admit().is_ok(), "one failure: still closed");
        b.record(None);
        b.record(Some(false));
        assert_eq!(b.report()["state"], "open");
        assert_eq!(b.report()["failure_count"], 2);
        assert!(b.admit().unwrap_err().contains("open"));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(b.report()["state"], "half_open");
        assert!(b.admit().is_ok(), "the trial call");
        assert!(b.admit().is_err(), "only one trial at a time");
        b.record(Some(false));
        assert_eq!(b.report()["state"], "open", "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.admit().is_ok());
        b.record(Some(true));
        assert_eq!(b.report()["state"], "closed");
        assert_eq!(b.report()["failure_count"], 0);
    }
}
