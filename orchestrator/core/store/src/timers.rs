//! Timers: the store keeps one sorted set of members `kind|job_id|rest`, scored by the
//! time they are due (epoch ms). The kind is one letter, so members stay short and the
//! Lua scripts can build the two a claim touches (`d|` and `r|`) themselves.
//!
//! | kind | member | fires |
//! |---|---|---|
//! | [`TimerKind::DispatchTimeout`] | `d|job|task` | no worker took a queued task in time |
//! | [`TimerKind::ResultTimeout`] | `r|job|task` | a leased task's result is overdue |
//! | [`TimerKind::DelayedEnqueue`] | `e|job|task` | a retry's backoff is over: queue the task |
//! | [`TimerKind::Webhook`] | `w|job|attempt` | a completion webhook delivery |
//! | [`TimerKind::ApprovalWebhook`] | `h|job|step.attempt` | an `approval_requested` delivery |
//! | [`TimerKind::ApprovalTimeout`] | `a|job|step` | an approval's time is up |
//! | [`TimerKind::StartChild`] | `s|job|child` | create the sub-job `child` |
//! | [`TimerKind::ChildEnded`] | `c|parent|child` | a child ended: wake its parent |
//! | [`TimerKind::CancelChild`] | `x|child|parent` | the parent was cancelled: cancel the child |
//! | [`TimerKind::JobEnded`] | `p|job|1` | a job with a hook ended: tell the face that created it |
//!
//! A timer is claimed before it fires (hidden for a visibility window), so it fires once
//! whichever orchestrator sees it; handlers are idempotent because a claim can outlive a
//! crashed orchestrator and fire again.

/// What a timer does when it is due; see the module docs for its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    DispatchTimeout,
    ResultTimeout,
    DelayedEnqueue,
    Webhook,
    ApprovalWebhook,
    ApprovalTimeout,
    StartChild,
    ChildEnded,
    CancelChild,
    JobEnded,
}

const ALL: [TimerKind; 10] = [
    TimerKind::DispatchTimeout,
    TimerKind::ResultTimeout,
    TimerKind::DelayedEnqueue,
    TimerKind::Webhook,
    TimerKind::ApprovalWebhook,
    TimerKind::ApprovalTimeout,
    TimerKind::StartChild,
    TimerKind::ChildEnded,
    TimerKind::CancelChild,
    TimerKind::JobEnded,
];

impl TimerKind {
    /// The letter that starts its members.
    pub fn letter(self) -> &'static str {
        match self {
            TimerKind::DispatchTimeout => "d",
            TimerKind::ResultTimeout => "r",
            TimerKind::DelayedEnqueue => "e",
            TimerKind::Webhook => "w",
            TimerKind::ApprovalWebhook => "h",
            TimerKind::ApprovalTimeout => "a",
            TimerKind::StartChild => "s",
            TimerKind::ChildEnded => "c",
            TimerKind::CancelChild => "x",
            TimerKind::JobEnded => "p",
        }
    }

    pub fn from_letter(letter: &str) -> Option<TimerKind> {
        ALL.into_iter().find(|k| k.letter() == letter)
    }

    /// The member of this kind for `job_id` and `rest`.
    pub fn member(self, job_id: &str, rest: &str) -> String {
        format!("{}|{job_id}|{rest}", self.letter())
    }

    /// Timers their committer fires at once instead of waiting for a reaper pass: the
    /// steps between a parent and its child jobs, and the end-of-job hook.
    pub fn fires_at_once(self) -> bool {
        matches!(
            self,
            TimerKind::StartChild
                | TimerKind::ChildEnded
                | TimerKind::CancelChild
                | TimerKind::JobEnded
        )
    }
}

/// A timer member read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer<'a> {
    pub kind: TimerKind,
    pub job_id: &'a str,
    pub rest: &'a str,
}

impl<'a> Timer<'a> {
    /// `None` for a member of no known kind (it is dropped unfired).
    pub fn parse(member: &'a str) -> Option<Timer<'a>> {
        let mut parts = member.splitn(3, '|');
        let kind = TimerKind::from_letter(parts.next()?)?;
        Some(Timer {
            kind,
            job_id: parts.next()?,
            rest: parts.next()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_round_trip_and_letters_are_unique() {
        for kind in ALL {
            let member = kind.member("job-1", "t|x");
            let timer = Timer::parse(&member).expect("parses");
            assert_eq!(
                (timer.kind, timer.job_id, timer.rest),
                (kind, "job-1", "t|x")
            );
            assert_eq!(
                ALL.iter().filter(|k| k.letter() == kind.letter()).count(),
                1
            );
        }
        assert_eq!(Timer::parse("z|j|1"), None);
        assert_eq!(Timer::parse("d|j"), None);
    }
}
