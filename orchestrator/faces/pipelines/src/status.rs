//! The two state machines, as tables: each action names the statuses it may start from
//! and the status it leads to. The store applies one with a compare-and-set
//! ([`RecordStore::transition_protocol`](super::RecordStore::transition_protocol)), so a
//! lost race or a wrong current status is a conflict, never an overwrite.
//!
//! Choices where the reference page leaves room (upstream had no guard at all):
//! - Terminal protocol statuses are `completed`, `failed`, `cancelled`: cancel, pause and
//!   complete refuse them (upstream cancel overwrote completed runs).
//! - `pause` is allowed from `paused` (the reference says "any but cancelled/completed/
//!   failed"), so a repeated pause is harmless.
//! - `run_next_step` / `retry_latest` move the run to `running` from `planned`,
//!   `running`, `blocked` or `failed`, never from `paused` (that is what `resume` is for).
//! - Step `approve` is allowed from `needs_qa`, `running`, `blocked` and `failed` (a human
//!   overrides QA or an engine failure); never from `pending` (nothing ran), `completed`
//!   or `cancelled`.
//! - Step `cancel` touches only `pending`, `running` and `needs_qa` steps, as protocol
//!   cancel does; `reset` (loop and trigger policies) sends any step but a running or
//!   cancelled one back to `pending`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolStatus {
    Pending,
    Planning,
    Planned,
    Running,
    Paused,
    Blocked,
    Failed,
    Cancelled,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    NeedsQa,
    Completed,
    Failed,
    Cancelled,
    Blocked,
}

/// Text form (the serde name) and back; the Redis store keeps statuses as this text.
pub trait StatusName: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

impl StatusName for ProtocolStatus {
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Planning,
        Self::Planned,
        Self::Running,
        Self::Paused,
        Self::Blocked,
        Self::Failed,
        Self::Cancelled,
        Self::Completed,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Planning => "planning",
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
}

impl StatusName for StepStatus {
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Running,
        Self::NeedsQa,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Blocked,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::NeedsQa => "needs_qa",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Blocked => "blocked",
        }
    }
}

impl fmt::Display for ProtocolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ProtocolStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Protocol statuses a cancel applies to (every non-terminal one).
pub const CANCELLABLE_PROTOCOL: &[ProtocolStatus] = {
    use ProtocolStatus::*;
    &[Pending, Planning, Planned, Running, Paused, Blocked]
};

/// Step statuses a protocol cancel moves to `cancelled` (finished steps stay as they are).
pub const CANCELLABLE_STEP: &[StepStatus] = {
    use StepStatus::*;
    &[Pending, Running, NeedsQa]
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolAction {
    Start,
    /// The plan job succeeded.
    Planned,
    /// Blocking clarification, engine error, invalid spec, or a failed step.
    Block,
    Pause,
    Resume,
    Cancel,
    RunNextStep,
    RetryLatest,
    /// All steps completed/cancelled, or the PR was merged.
    Complete,
}

impl ProtocolAction {
    pub const ALL: &'static [ProtocolAction] = &[
        Self::Start,
        Self::Planned,
        Self::Block,
        Self::Pause,
        Self::Resume,
        Self::Cancel,
        Self::RunNextStep,
        Self::RetryLatest,
        Self::Complete,
    ];

    pub fn allowed_from(self) -> &'static [ProtocolStatus] {
        use ProtocolStatus::*;
        match self {
            Self::Start => &[Pending, Planned, Paused],
            Self::Planned => &[Planning],
            Self::Block => &[Planning, Planned, Running],
            Self::Pause => &[Pending, Planning, Planned, Running, Paused, Blocked],
            Self::Resume => &[Paused],
            Self::Cancel | Self::Complete => CANCELLABLE_PROTOCOL,
            Self::RunNextStep | Self::RetryLatest => &[Planned, Running, Blocked, Failed],
        }
    }

    pub fn to(self) -> ProtocolStatus {
        use ProtocolStatus::*;
        match self {
            Self::Start => Planning,
            Self::Planned => Planned,
            Self::Block => Blocked,
            Self::Pause => Paused,
            Self::Resume | Self::RunNextStep | Self::RetryLatest => Running,
            Self::Cancel => Cancelled,
            Self::Complete => Completed,
        }
    }

    /// The status after the action, or `None` if `from` does not allow it (409).
    pub fn apply(self, from: ProtocolStatus) -> Option<ProtocolStatus> {
        self.allowed_from().contains(&from).then(|| self.to())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// Also `retry_latest` on the latest failed/blocked step.
    Run,
    RunQa,
    Approve,
    /// The exec job finished and QA follows (the default).
    ExecDone,
    /// The exec job finished and QA is skipped.
    ExecDoneSkipQa,
    ExecFailed,
    QaPassed,
    QaFailed,
    Cancel,
    /// Loop/trigger policies send a step back to be run again.
    Reset,
}

impl StepAction {
    pub const ALL: &'static [StepAction] = &[
        Self::Run,
        Self::RunQa,
        Self::Approve,
        Self::ExecDone,
        Self::ExecDoneSkipQa,
        Self::ExecFailed,
        Self::QaPassed,
        Self::QaFailed,
        Self::Cancel,
        Self::Reset,
    ];

    pub fn allowed_from(self) -> &'static [StepStatus] {
        use StepStatus::*;
        match self {
            Self::Run => &[Pending, Blocked, Failed],
            Self::RunQa => &[Pending, Running, NeedsQa, Failed, Blocked],
            Self::Approve => &[NeedsQa, Running, Blocked, Failed],
            Self::ExecDone | Self::ExecDoneSkipQa | Self::ExecFailed => &[Running],
            Self::QaPassed | Self::QaFailed => &[NeedsQa],
            Self::Cancel => CANCELLABLE_STEP,
            Self::Reset => &[Pending, NeedsQa, Completed, Failed, Blocked],
        }
    }

    pub fn to(self) -> StepStatus {
        use StepStatus::*;
        match self {
            Self::Run => Running,
            Self::RunQa | Self::ExecDone => NeedsQa,
            Self::Approve | Self::ExecDoneSkipQa | Self::QaPassed => Completed,
            Self::ExecFailed | Self::QaFailed => Failed,
            Self::Cancel => Cancelled,
            Self::Reset => Pending,
        }
    }

    pub fn apply(self, from: StepStatus) -> Option<StepStatus> {
        self.allowed_from().contains(&from).then(|| self.to())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference tables written out as (action, from, expected `to` or refused);
    /// every (action, status) pair is checked, so a table change must change this too.
    #[test]
    fn protocol_table_every_pair() {
        use ProtocolAction as A;
        use ProtocolStatus::*;
        let expect = |a: A, from: ProtocolStatus| -> Option<ProtocolStatus> {
            match (a, from) {
                (A::Start, Pending | Planned | Paused) => Some(Planning),
                (A::Planned, Planning) => Some(Planned),
                (A::Block, Planning | Planned | Running) => Some(Blocked),
                (A::Pause, f) if !matches!(f, Cancelled | Completed | Failed) => Some(Paused),
                (A::Resume, Paused) => Some(Running),
                (A::Cancel, f) if !f.is_terminal() => Some(Cancelled),
                (A::RunNextStep | A::RetryLatest, Planned | Running | Blocked | Failed) => {
                    Some(Running)
                }
                (A::Complete, f) if !f.is_terminal() => Some(Completed),
                _ => None,
            }
        };
        let mut allowed = 0;
        for &a in A::ALL {
            for &from in ProtocolStatus::ALL {
                assert_eq!(a.apply(from), expect(a, from), "{a:?} from {from}");
                allowed += usize::from(a.apply(from).is_some());
            }
        }
        assert_eq!(allowed, 3 + 1 + 3 + 6 + 1 + 6 + 4 + 4 + 6);
    }

    #[test]
    fn cancel_never_touches_finished_runs_or_steps() {
        for s in [
            ProtocolStatus::Completed,
            ProtocolStatus::Failed,
            ProtocolStatus::Cancelled,
        ] {
            assert_eq!(ProtocolAction::Cancel.apply(s), None);
            assert_eq!(ProtocolAction::Pause.apply(s), None);
        }
        for s in [
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::Blocked,
        ] {
            assert_eq!(StepAction::Cancel.apply(s), None, "{s}");
        }
    }

    #[test]
    fn step_table_every_pair() {
        use StepAction as A;
        use StepStatus::*;
        let expect = |a: A, from: StepStatus| -> Option<StepStatus> {
            match (a, from) {
                (A::Run, Pending | Blocked | Failed) => Some(Running),
                (A::RunQa, f) if !matches!(f, Completed | Cancelled) => Some(NeedsQa),
                (A::Approve, NeedsQa | Running | Blocked | Failed) => Some(Completed),
                (A::ExecDone, Running) => Some(NeedsQa),
                (A::ExecDoneSkipQa, Running) => Some(Completed),
                (A::ExecFailed, Running) => Some(Failed),
                (A::QaPassed, NeedsQa) => Some(Completed),
                (A::QaFailed, NeedsQa) => Some(Failed),
                (A::Cancel, Pending | Running | NeedsQa) => Some(Cancelled),
                (A::Reset, f) if !matches!(f, Running | Cancelled) => Some(Pending),
                _ => None,
            }
        };
        for &a in A::ALL {
            for &from in StepStatus::ALL {
                assert_eq!(a.apply(from), expect(a, from), "{a:?} from {from}");
            }
        }
        for s in [Pending, Completed, Cancelled] {
            assert_eq!(A::Approve.apply(s), None, "approve is guarded: {s}");
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for &s in ProtocolStatus::ALL {
            assert_eq!(ProtocolStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        for &s in StepStatus::ALL {
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        assert_eq!(ProtocolStatus::parse("done"), None);
    }
}
