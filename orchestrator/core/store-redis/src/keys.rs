//! Key and channel names of one deployment: everything under `{<prefix>}:`.

/// Key names of one deployment (one prefix).
#[derive(Clone)]
pub struct Keys {
    /// `{prefix}:`
    pub(crate) tag: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            tag: format!("{{{prefix}}}:"),
        }
    }
    pub fn k(&self, rest: &str) -> String {
        format!("{}{rest}", self.tag)
    }
    pub(crate) fn job(&self, id: &str) -> String {
        self.k(&format!("job:{id}"))
    }
    pub(crate) fn hist(&self, id: &str) -> String {
        self.k(&format!("hist:{id}"))
    }
    pub(crate) fn queue(&self, skill: &str) -> String {
        self.k(&format!("q:{skill}"))
    }
    pub(crate) fn worker(&self, id: &str) -> String {
        self.k(&format!("worker:{id}"))
    }
    pub(crate) fn worker_tasks(&self, id: &str) -> String {
        self.k(&format!("wtasks:{id}"))
    }
    pub(crate) fn worker_cancels(&self, id: &str) -> String {
        self.k(&format!("wcancel:{id}"))
    }
    pub(crate) fn quarantine(&self, owner: &str) -> String {
        self.k(&format!("quarantine:{owner}"))
    }
    pub(crate) fn quarantine_owners(&self) -> String {
        self.k("quarantine_owners")
    }
    /// SCAN pattern matching every key of this deployment and nothing else: the tag with
    /// glob metacharacters escaped, then `*`.
    pub(crate) fn scan_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.tag.len() + 2);
        for ch in self.tag.chars() {
            if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(ch);
        }
        pattern.push('*');
        pattern
    }
    pub(crate) fn wake_channel(&self) -> String {
        self.k("wake")
    }
    pub(crate) fn command_channel(&self) -> String {
        self.k("cmd")
    }
    pub(crate) fn done_channel(&self) -> String {
        self.k("done")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_pattern_escapes_glob_characters_of_the_prefix() {
        assert_eq!(Keys::new("baton").scan_pattern(), "{baton}:*");
        assert_eq!(
            Keys::new("a*b?[c]\\").scan_pattern(),
            "{a\\*b\\?\\[c\\]\\\\}:*"
        );
    }
}
