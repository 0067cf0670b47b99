//! The QA verdict of a review report: the **last** non-empty line that starts with
//! `VERDICT` decides; it fails if it contains `FAIL`, else it passes. A report without
//! such a line, or an empty one, fails: a review that says nothing clear approves
//! nothing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        }
    }
}

pub fn verdict(report: &str) -> Verdict {
    let line = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .rfind(|l| l.to_ascii_uppercase().starts_with("VERDICT"));
    match line {
        Some(l) if !l.to_ascii_uppercase().contains("FAIL") => Verdict::Pass,
        _ => Verdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_verdict_line_decides() {
        assert_eq!(verdict("looks good\nVERDICT: PASS\n"), Verdict::Pass);
        assert_eq!(
            verdict("VERDICT: PASS\nmore thoughts\nVERDICT: FAIL - tests"),
            Verdict::Fail
        );
        assert_eq!(
            verdict("VERDICT: FAIL\n...\n  verdict: pass  \n\n"),
            Verdict::Pass
        );
        assert_eq!(verdict("Verdict - approved"), Verdict::Pass);
    }

    #[test]
    fn no_clear_verdict_fails() {
        assert_eq!(verdict(""), Verdict::Fail);
        assert_eq!(verdict("all fine, ship it"), Verdict::Fail);
        assert_eq!(
            verdict("the verdict is PASS"),
            Verdict::Fail,
            "must start the line"
        );
    }
}
