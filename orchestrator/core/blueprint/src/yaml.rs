//! A blueprint file's YAML as the JSON document the loader validates.
//!
//! JSON has no infinity or NaN: converted directly, YAML's `.inf` and `.nan` would turn
//! into `null` and a `result_timeout: .inf` would silently mean "no timeout set". They are
//! refused here instead, naming where they are.

use serde_json::Value;
use serde_norway::Value as Yaml;

/// The document, or a message naming the first non-finite number's path.
pub fn to_json(text: &str) -> Result<Value, String> {
    let yaml: Yaml = serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    if let Some(path) = non_finite(&yaml, String::new()) {
        return Err(format!(
            "`{path}` is not a finite number (.inf and .nan are not accepted)"
        ));
    }
    serde_json::to_value(&yaml).map_err(|e| format!("invalid YAML: {e}"))
}

/// Path (dotted, `[i]` for list items) of the first infinite or NaN number.
fn non_finite(value: &Yaml, path: String) -> Option<String> {
    match value {
        Yaml::Number(n) if n.is_infinite() || n.is_nan() => Some(path),
        Yaml::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(v, format!("{path}[{i}]"))),
        Yaml::Mapping(map) => map.iter().find_map(|(k, v)| {
            let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_string);
            let sub = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            non_finite(v, sub)
        }),
        Yaml::Tagged(tagged) => non_finite(&tagged.value, path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinities_and_nans_are_refused_with_their_path() {
        let e = to_json("states:\n  work:\n    result_timeout: .inf\n").unwrap_err();
        assert!(e.contains("`states.work.result_timeout`"), "{e}");
        let e = to_json("a: [1, .nan]\n").unwrap_err();
        assert!(e.contains("`a[1]`"), "{e}");
        assert_eq!(
            to_json("a: 1e20\nb: [x, 2.5]\n").unwrap(),
            serde_json::json!({"a": 1e20, "b": ["x", 2.5]})
        );
    }
}
