//! Reading request fields with Vault's lenient typing: numbers may come as strings, booleans as `"true"`,
//! lists as comma-separated strings, durations as seconds or Go strings.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::EngineError;

/// A string field; numbers and booleans are accepted and printed.
pub fn string(data: &Map<String, Value>, name: &str) -> Result<Option<String>, EngineError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(EngineError::invalid(format!(
            "field {name:?} must be a string"
        ))),
    }
}

/// A boolean field (`true`, `"true"`, `"1"`, `1`, ...).
pub fn boolean(data: &Map<String, Value>, name: &str) -> Result<Option<bool>, EngineError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_f64().is_some_and(|f| f != 0.0))),
        Some(Value::String(s)) => match s.trim() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
            "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(Some(false)),
            _ => Err(EngineError::invalid(format!(
                "field {name:?} must be a boolean"
            ))),
        },
        Some(_) => Err(EngineError::invalid(format!(
            "field {name:?} must be a boolean"
        ))),
    }
}

/// A non-negative integer field (numbers or numeric strings).
pub fn uint(data: &Map<String, Value>, name: &str) -> Result<Option<u64>, EngineError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| {
                EngineError::invalid(format!("field {name:?} must be a non-negative integer"))
            }),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            EngineError::invalid(format!("field {name:?} must be a non-negative integer"))
        }),
        Some(_) => Err(EngineError::invalid(format!(
            "field {name:?} must be a non-negative integer"
        ))),
    }
}

/// A duration field: a number of seconds or a Go duration string (`"1h30m"`).
pub fn duration(data: &Map<String, Value>, name: &str) -> Result<Option<Duration>, EngineError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64()
                .map(|s| Some(Duration::from_secs(s)))
                .ok_or_else(|| {
                    EngineError::invalid(format!("field {name:?} must be a non-negative duration"))
                })
        }
        Some(Value::String(s)) => api_spec::duration::parse(s)
            .map(Some)
            .map_err(|e| EngineError::invalid(format!("field {name:?}: {e}"))),
        Some(_) => Err(EngineError::invalid(format!(
            "field {name:?} must be a duration"
        ))),
    }
}

/// A list of strings: a JSON array of strings, or a comma-separated string (items trimmed, empties dropped).
pub fn strings(data: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, EngineError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
                _ => Err(EngineError::invalid(format!(
                    "field {name:?} must be a list of strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(v.into_iter().filter(|s| !s.is_empty()).collect())),
        Some(_) => Err(EngineError::invalid(format!(
            "field {name:?} must be a list of strings"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lenient_types() {
        let d = m(
            json!({"s": 5, "b": "true", "n": "42", "d": "1h", "ds": 30, "l": "a, b,,c", "la": ["x", "y"], "bad": {}}),
        );
        assert_eq!(string(&d, "s").unwrap().as_deref(), Some("5"));
        assert_eq!(boolean(&d, "b").unwrap(), Some(true));
        assert_eq!(uint(&d, "n").unwrap(), Some(42));
        assert_eq!(duration(&d, "d").unwrap(), Some(Duration::from_secs(3600)));
        assert_eq!(duration(&d, "ds").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(strings(&d, "l").unwrap().unwrap(), vec!["a", "b", "c"]);
        assert_eq!(strings(&d, "la").unwrap().unwrap(), vec!["x", "y"]);
        assert_eq!(string(&d, "missing").unwrap(), None);
        assert!(string(&d, "bad").is_err());
        assert!(uint(&d, "d").is_err());
        assert!(boolean(&d, "bad").is_err());
    }
}
