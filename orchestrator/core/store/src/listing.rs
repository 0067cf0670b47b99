//! The job index: listing any number of jobs with filters, newest first, a page at a
//! time, without scanning the jobs.
//!
//! The data: every job is in four sorted sets, kept by the commits themselves (in the
//! same atomic step as the change): all jobs, the jobs of its blueprint and those of its
//! client, scored by creation time; and the jobs of its current status, scored by when
//! it took that status (a job moves from set to set as its status changes). A listing
//! walks the most selective set its filters name (status, else blueprint, else client,
//! else all) from a time bound downward and checks the other filters on each job's
//! summary fields; it looks at a bounded number of entries per call and says where to go
//! on ([`JobCursor`]), so a rare combination of filters costs pages, never a scan of
//! everything in one request. Entries of jobs that expired are dropped when met and by
//! [`crate::Store::prune_job_index`].

/// Where a listing goes on: the (score, id) of the last entry looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCursor {
    pub score_ms: i64,
    pub id: String,
}

impl JobCursor {
    /// `<score>.<id>`, as clients pass it back.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.score_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<JobCursor> {
        let (score, id) = text.split_once('.')?;
        Some(JobCursor {
            score_ms: score.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub status: Option<String>,
    pub blueprint: Option<String>,
    /// The owning client (a client token lists only its own).
    pub client: Option<String>,
    /// Inclusive epoch ms bounds of the index's time: the job's creation, or with
    /// `status`, when it took that status.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Text the job id must contain.
    pub id_contains: Option<String>,
    pub cursor: Option<JobCursor>,
    /// Most jobs answered.
    pub limit: usize,
    /// Most index entries looked at (the page may be short; the cursor goes on).
    pub scan_limit: usize,
}

impl JobQuery {
    /// The index the query walks: `s:<status>`, `b:<blueprint>`, `c:<client>` or `all`.
    pub fn index(&self) -> String {
        match (&self.status, &self.blueprint, &self.client) {
            (Some(s), _, _) => format!("s:{s}"),
            (None, Some(b), _) => format!("b:{b}"),
            (None, None, Some(c)) => format!("c:{c}"),
            _ => "all".into(),
        }
    }

    /// Whether a job's summary passes the filters the index does not apply.
    pub fn keeps(&self, j: &JobSummary) -> bool {
        self.status.as_ref().is_none_or(|s| &j.status == s)
            && self.blueprint.as_ref().is_none_or(|b| &j.blueprint == b)
            && self.client.as_ref().is_none_or(|c| &j.client == c)
            && self
                .id_contains
                .as_ref()
                .is_none_or(|t| j.id.contains(t.as_str()))
    }
}

/// A job in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: String,
    pub status: String,
    pub blueprint: String,
    pub client: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobPage {
    pub jobs: Vec<JobSummary>,
    /// Where to go on; `None` when the index has nothing further.
    pub next: Option<JobCursor>,
}

/// Jobs per time bucket, from the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimelineBucket {
    pub start_ms: i64,
    pub created: u64,
    /// Ended `finished` in the bucket (and still in that status).
    pub finished: u64,
    /// Ended `failed` or `quarantined` in the bucket (and still so).
    pub failed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = JobCursor {
            score_ms: 1700,
            id: "a.b-c".into(),
        };
        assert_eq!(JobCursor::decode(&c.encode()), Some(c));
        assert_eq!(JobCursor::decode("x.y"), None);
        assert_eq!(JobCursor::decode("nodot"), None);
    }

    #[test]
    fn the_most_selective_index_is_walked() {
        let q = JobQuery {
            blueprint: Some("echo".into()),
            client: Some("c".into()),
            ..JobQuery::default()
        };
        assert_eq!(q.index(), "b:echo");
        let q = JobQuery {
            status: Some("failed".into()),
            ..q
        };
        assert_eq!(q.index(), "s:failed");
        assert_eq!(JobQuery::default().index(), "all");
    }
}
