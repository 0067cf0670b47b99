//! Skills: typed handlers behind one erased signature.
//!
//! A skill is a [`SkillInfo`] (its announced name, type, description, schemas) plus a
//! handler. Users write handlers with their own parameter and output types; [`erase`]
//! wraps each into an [`ErasedHandler`] taking the task's raw JSON params and returning
//! JSON data or a [`TaskError`], so the runtime stores all skills in one [`SkillSet`]
//! keyed by name.
//!
//! The wrapper owns the two conversions the protocol assigns error codes to:
//! params that do not deserialize become `INVALID_INPUT_ERROR` (with serde's message) and
//! output that does not serialize becomes `CONTRACT_VIOLATION_ERROR`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use baton_protocol::{error_codes, SkillInfo};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::TaskContext;
use crate::error::{TaskError, WorkerError};

pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, TaskError>> + Send>>;
pub(crate) type ErasedHandler = Arc<dyn Fn(Value, TaskContext) -> HandlerFuture + Send + Sync>;

/// Wraps a typed handler; see the module docs.
pub(crate) fn erase<P, O, F, Fut>(handler: F) -> ErasedHandler
where
    P: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(P, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
{
    Arc::new(move |params: Value, ctx: TaskContext| -> HandlerFuture {
        // Python workers receive `{}` when a task has no params; do the same so that
        // parameter structs whose fields all have defaults accept such tasks.
        let params = if params.is_null() {
            Value::Object(Default::default())
        } else {
            params
        };
        match serde_json::from_value::<P>(params) {
            Err(e) => Box::pin(std::future::ready(Err(TaskError::invalid_input(format!(
                "invalid params: {e}"
            ))))),
            Ok(params) => {
                let running = handler(params, ctx);
                Box::pin(async move {
                    let output = running.await?;
                    serde_json::to_value(output).map_err(|e| {
                        TaskError::new(
                            error_codes::CONTRACT_VIOLATION,
                            format!("handler output cannot be serialised: {e}"),
                        )
                    })
                })
            }
        }
    })
}

pub(crate) struct Skill {
    pub info: SkillInfo,
    pub handler: ErasedHandler,
}

/// Every skill of a worker, by name (sorted, so announcements are stable).
#[derive(Default)]
pub(crate) struct SkillSet {
    skills: BTreeMap<String, Skill>,
}

impl SkillSet {
    pub(crate) fn insert(
        &mut self,
        info: SkillInfo,
        handler: ErasedHandler,
    ) -> Result<(), WorkerError> {
        crate::config::validate_identifier(&info.name, "skill name")?;
        if let Some(kind) = &info.skill_type {
            crate::config::validate_identifier(kind, "skill type")?;
        }
        if self.skills.contains_key(&info.name) {
            return Err(WorkerError::DuplicateSkill(info.name));
        }
        self.skills
            .insert(info.name.clone(), Skill { info, handler });
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.get(name)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.skills.keys().cloned().collect()
    }

    pub(crate) fn infos(&self) -> Vec<SkillInfo> {
        self.skills.values().map(|s| s.info.clone()).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::TaskPayload;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Params {
        n: u32,
        #[serde(default)]
        label: String,
    }

    fn ctx() -> TaskContext {
        TaskContext::detached(TaskPayload::default())
    }

    fn doubler() -> ErasedHandler {
        erase(|p: Params, _ctx: TaskContext| async move {
            if p.n == 0 {
                return Err(TaskError::permanent("zero"));
            }
            Ok(json!({"double": p.n * 2, "label": p.label}))
        })
    }

    #[tokio::test]
    async fn params_are_typed_and_errors_are_mapped() {
        let h = doubler();
        assert_eq!(
            h(json!({"n": 2}), ctx()).await.unwrap(),
            json!({"double": 4, "label": ""})
        );
        let e = h(json!({"n": "two"}), ctx()).await.unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT_ERROR");
        assert!(e.message().contains("invalid type"), "{e}");
        let e = h(json!({}), ctx()).await.unwrap_err();
        assert!(e.message().contains("missing field `n`"), "{e}");
        assert_eq!(
            h(json!({"n": 0}), ctx()).await.unwrap_err().code(),
            "PERMANENT_ERROR"
        );
    }

    #[tokio::test]
    async fn null_params_read_as_an_empty_object() {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Optional {
            n: u32,
        }
        let h = erase(|p: Optional, _ctx: TaskContext| async move { Ok(p.n) });
        assert_eq!(h(Value::Null, ctx()).await.unwrap(), json!(0));
    }

    #[tokio::test]
    async fn unserialisable_output_is_a_contract_violation() {
        let h = erase(|_p: Value, _ctx: TaskContext| async move {
            // JSON object keys must be strings.
            Ok(std::collections::HashMap::from([((1, 2), 3)]))
        });
        assert_eq!(
            h(json!({}), ctx()).await.unwrap_err().code(),
            "CONTRACT_VIOLATION_ERROR"
        );
    }

    #[test]
    fn names_are_validated_and_unique() {
        let mut set = SkillSet::default();
        let info = |name: &str| SkillInfo {
            name: name.into(),
            ..Default::default()
        };
        set.insert(info("echo"), doubler()).unwrap();
        assert!(matches!(
            set.insert(info("echo"), doubler()),
            Err(WorkerError::DuplicateSkill(_))
        ));
        assert!(matches!(
            set.insert(info("bad name"), doubler()),
            Err(WorkerError::Config(_))
        ));
        assert!(matches!(
            set.insert(info(""), doubler()),
            Err(WorkerError::Config(_))
        ));
        assert_eq!(set.names(), vec!["echo"]);
    }
}
