//! Request-field readers the SDK does not have: OpenBao's `TypeStringSlice` (a string is one item, never
//! split on commas, since statements contain commas) and its `TypeDurationSecond`.

use engine_sdk::field;
use serde_json::{Map, Value};

use crate::error::DbError;

/// A list of strings: a JSON array, or a single string as a one-item list (an empty string is an empty list).
pub(crate) fn string_slice(
    data: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, DbError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
                _ => Err(DbError::invalid(format!(
                    "field {name:?} must be a list of strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(DbError::invalid(format!(
            "field {name:?} must be a list of strings"
        ))),
    }
}

/// A string field.
pub(crate) fn string(data: &Map<String, Value>, name: &str) -> Result<Option<String>, DbError> {
    Ok(field::string(data, name)?)
}

/// A boolean field.
pub(crate) fn boolean(data: &Map<String, Value>, name: &str) -> Result<Option<bool>, DbError> {
    Ok(field::boolean(data, name)?)
}

/// A duration field in whole seconds.
pub(crate) fn seconds(data: &Map<String, Value>, name: &str) -> Result<Option<u64>, DbError> {
    Ok(field::duration(data, name)?.map(|d| d.as_secs()))
}

/// A comma-separated or array list of strings.
pub(crate) fn comma_list(
    data: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, DbError> {
    Ok(field::strings(data, name)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn string_slices() {
        let d = json!({"a": "x, y; z", "b": ["p", "q"], "c": "", "d": 5, "e": {}});
        let d = d.as_object().unwrap();
        assert_eq!(string_slice(d, "a").unwrap().unwrap(), vec!["x, y; z"]);
        assert_eq!(string_slice(d, "b").unwrap().unwrap(), vec!["p", "q"]);
        assert!(string_slice(d, "c").unwrap().unwrap().is_empty());
        assert!(string_slice(d, "missing").unwrap().is_none());
        assert!(string_slice(d, "e").is_err());
        assert!(string_slice(d, "d").is_err());
    }
}
