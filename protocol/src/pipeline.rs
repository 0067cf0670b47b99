//! What the coding-pipeline orchestrator and its worker must agree on, beside the wire
//! types: where a project's clone lives (its directory is named by [`repo_name`]), which
//! files onboarding lists as assets ([`ASSETS`]), and how logs and artifacts are cut to
//! their caps without splitting a UTF-8 character ([`head`], [`tail`]).

/// The repository name of a URL or path (`https://h/o/app.git` → `app`); `repo` when the
/// URL names none (or only `.`/`..`, which must never become a directory name).
pub fn repo_name(git_url: &str) -> String {
    let last = git_url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() || name == "." || name == ".." {
        "repo".into()
    } else {
        name.to_string()
    }
}

/// Files that tell later jobs something about a repository, by what they are.
pub const ASSETS: &[(&str, &str)] = &[
    ("README.md", "readme"),
    ("Cargo.toml", "cargo"),
    ("package.json", "npm"),
    ("pyproject.toml", "python"),
    ("go.mod", "go"),
    ("Makefile", "make"),
    (".github/workflows", "github-actions"),
    (".gitlab-ci.yml", "gitlab-ci"),
];

/// The longest prefix of `s` with at most `max` bytes, on a char boundary.
pub fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest suffix of `s` with at most `max` bytes, on a char boundary.
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        assert_eq!(repo_name("https://github.com/o/app.git"), "app");
        assert_eq!(repo_name("git@github.com:o/app.git"), "app");
        assert_eq!(repo_name("/srv/git/tool/"), "tool");
        assert_eq!(repo_name(".."), "repo");
        assert_eq!(repo_name(""), "repo");
    }

    #[test]
    fn cuts_keep_whole_characters() {
        let s = "aé€b"; // 1 + 2 + 3 + 1 bytes
        assert_eq!(head(s, 2), "a");
        assert_eq!(head(s, 3), "aé");
        assert_eq!(tail(s, 3), "b");
        assert_eq!(tail(s, 4), "€b");
        assert_eq!((head(s, 99), tail(s, 99)), (s, s));
    }
}
