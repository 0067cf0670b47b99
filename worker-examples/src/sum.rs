//! The `sum` skill: adds up numbers, e.g. the results of a parallel state's branches.
//!
//! Params: `values`, a list whose items are numbers or objects; with `field` set, the
//! number is read from that key of each object (`{"values": [{"n": 1}, {"n": 2}],
//! "field": "n"}`). Nulls are skipped (a branch that failed under `on_failure: collect`
//! has no data). Anything else that is not a number fails the task with
//! `INVALID_INPUT_ERROR`. Answers `{"sum": s, "count": n}`.

use baton_worker::{TaskContext, TaskError, WorkerBuilder};
use serde_json::{json, Map, Value};

/// Name of the skill registered by [`sum_skill`].
pub const SUM_SKILL: &str = "sum";

/// Adds the `sum` skill to a worker.
pub fn sum_skill(builder: WorkerBuilder) -> WorkerBuilder {
    builder.skill(SUM_SKILL, sum)
}

/// The `sum` handler; see the module docs.
pub async fn sum(params: Map<String, Value>, _ctx: TaskContext) -> Result<Value, TaskError> {
    let Some(Value::Array(values)) = params.get("values") else {
        return Err(TaskError::invalid_input("sum: `values` must be a list"));
    };
    let field = params.get("field").and_then(Value::as_str);
    let (mut total, mut count) = (0.0, 0u64);
    for (i, v) in values.iter().enumerate() {
        let v = match (field, v) {
            (Some(f), Value::Object(map)) => map.get(f).unwrap_or(&Value::Null),
            _ => v,
        };
        match v {
            Value::Null => continue,
            Value::Number(n) => {
                total += n.as_f64().unwrap_or(0.0);
                count += 1;
            }
            other => {
                return Err(TaskError::invalid_input(format!(
                    "sum: item {i} is not a number: {other}"
                )))
            }
        }
    }
    Ok(json!({"sum": total, "count": count}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_worker::TaskPayload;

    fn run(p: Value) -> Result<Value, TaskError> {
        let Value::Object(map) = p else {
            panic!("params must be an object")
        };
        let ctx = TaskContext::detached(TaskPayload::default());
        futures_lite_block_on(sum(map, ctx))
    }

    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn adds_numbers_and_fields_skipping_nulls() {
        assert_eq!(
            run(json!({"values": [1, 2.5, null]})).unwrap(),
            json!({"sum": 3.5, "count": 2})
        );
        assert_eq!(
            run(json!({"values": [{"n": 2}, {"n": 3}, null], "field": "n"})).unwrap(),
            json!({"sum": 5.0, "count": 2})
        );
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        assert_eq!(
            run(json!({"values": ["x"]})).unwrap_err().code(),
            "INVALID_INPUT_ERROR"
        );
        assert_eq!(run(json!({})).unwrap_err().code(), "INVALID_INPUT_ERROR");
    }
}
