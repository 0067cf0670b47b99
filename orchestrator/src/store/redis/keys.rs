//! Key and channel names of one deployment: everything under `{<prefix>}:`.

/// Key names of one deployment (one prefix).
#[derive(Clone)]
pub(crate) struct Keys {
    /// `{prefix}:`
    pub(crate) tag: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            tag: format!("{{{prefix}}}:"),
        }
    }
    pub(crate) fn k(&self, rest: &str) -> String {
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
