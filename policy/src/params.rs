//! Matching request parameter values against `allowed_parameters` / `denied_parameters` value lists.
//!
//! A value matches a list entry when both are strings and the entry, as a glob (`*` prefix and/or suffix),
//! matches the value; otherwise when they are equal JSON values (numbers compared by value; no
//! string/number/bool coercion: `false` and `"false"` differ). On top of the whole-value match, requests
//! are checked element-wise as current Vault does: a list value is allowed when every element is allowed
//! and denied when any element is denied, and a string is also read as a comma-separated list (the way
//! comma-string fields receive it) with the same every/any rule.

use serde_json::Value;

/// Vault's glob on parameter values: `*x*` contains, `*x` suffix, `x*` prefix, otherwise equality. A lone
/// `*` is a literal (OpenBao only treats patterns of two or more characters as globs).
pub(crate) fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => rest
            .strip_suffix('*')
            .is_some_and(|middle| value.contains(middle)),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `value` equals (or glob-matches) one entry of `list`.
fn in_list(value: &Value, list: &[Value]) -> bool {
    match value {
        Value::String(s) => str_in_list(s, list),
        _ => list.iter().any(|entry| json_eq(entry, value)),
    }
}

/// [`in_list`] for a string, without building a `Value`.
fn str_in_list(s: &str, list: &[Value]) -> bool {
    list.iter()
        .any(|entry| matches!(entry, Value::String(p) if glob_match(p, s)))
}

/// The pieces of a comma-separated string, trimmed; empty input has no pieces.
fn comma_pieces(s: &str) -> impl Iterator<Item = &str> {
    let pieces = (!s.is_empty()).then(|| s.split(',').map(str::trim));
    pieces.into_iter().flatten()
}

/// Whether `value` is acceptable for an `allowed_parameters` entry with values `list`.
pub(crate) fn allowed(value: &Value, list: &[Value]) -> bool {
    if list.is_empty() || in_list(value, list) {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().all(|v| in_list(v, list)),
        Value::String(s) => comma_pieces(s).all(|piece| str_in_list(piece, list)),
        _ => false,
    }
}

/// Whether `value` is hit by a `denied_parameters` entry with values `list`.
pub(crate) fn denied(value: &Value, list: &[Value]) -> bool {
    if list.is_empty() || in_list(value, list) {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(|v| in_list(v, list)),
        Value::String(s) => comma_pieces(s).any(|piece| str_in_list(piece, list)),
        _ => false,
    }
}

/// Parameters whose values Vault lower-cases before checking, because the server lower-cases policy names
/// when storing them: without this, `Admin` would slip past `denied_parameters = { policies = ["admin"] }`.
pub(crate) fn lowercases_values(param: &str) -> bool {
    param.eq_ignore_ascii_case("policies") || param.eq_ignore_ascii_case("token_policies")
}

/// A copy of `value` with its strings lower-cased, or `None` when nothing would change (no allocation).
pub(crate) fn lowercased(value: &Value) -> Option<Value> {
    fn needs(s: &str) -> bool {
        s.chars().any(|c| c.to_lowercase().ne(std::iter::once(c)))
    }
    match value {
        Value::String(s) if needs(s) => Some(Value::String(s.to_lowercase())),
        Value::Array(items)
            if items
                .iter()
                .any(|v| matches!(v, Value::String(s) if needs(s))) =>
        {
            Some(Value::Array(
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Value::String(s.to_lowercase()),
                        other => other.clone(),
                    })
                    .collect(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        let cases = [
            ("foo-*", "foo-bar", true),
            ("foo-*", "foo-", true),
            ("foo-*", "fo", false),
            ("*-suf", "x-suf", true),
            ("*-suf", "x-sux", false),
            ("*mid*", "amidb", true),
            ("*mid*", "mi", false),
            ("**", "anything", true),
            ("*", "*", true),
            ("*", "x", false),
            ("a", "a", true),
            ("", "", true),
            ("exact", "exactly", false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(glob_match(pattern, value), want, "{pattern} vs {value}");
        }
    }

    #[test]
    fn allowed_values() {
        let list = [
            json!("zip"),
            json!("zap"),
            json!("pre-*"),
            json!(8),
            json!(false),
        ];
        let cases = [
            (json!("zip"), true),
            (json!("pre-fix"), true),
            (json!("zop"), false),
            (json!(8), true),
            (json!(8.0), true),
            (json!("8"), false),
            (json!(false), true),
            (json!("false"), false),
            (json!(null), false),
            (json!(["zip", "zap"]), true),
            (json!(["zip", "nope"]), false),
            (json!([]), true),
            (json!("zip,zap"), true),
            (json!("zip, pre-x"), true),
            (json!("zip,nope"), false),
            (json!({"a": 1}), false),
        ];
        for (value, want) in cases {
            assert_eq!(allowed(&value, &list), want, "{value}");
        }
        assert!(allowed(&json!("anything"), &[]));
    }

    #[test]
    fn denied_values() {
        let list = [json!("admin"), json!("root*")];
        let cases = [
            (json!("admin"), true),
            (json!("root-ish"), true),
            (json!("dev"), false),
            (json!(["dev", "admin"]), true),
            (json!(["dev"]), false),
            (json!("dev,admin"), true),
            (json!("dev, admin "), true),
            (json!("dev,ops"), false),
            (json!(1), false),
        ];
        for (value, want) in cases {
            assert_eq!(denied(&value, &list), want, "{value}");
        }
        assert!(denied(&json!("anything"), &[]));
        assert!(denied(&json!(null), &[json!(null)]));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!([1, {"a": 2}]), &json!([1.0, {"a": 2}])));
        assert!(!json_eq(&json!(1), &json!(2)));
        assert!(!json_eq(&json!(-1), &json!(u64::MAX)));
    }

    #[test]
    fn lowercasing_only_when_needed() {
        assert_eq!(lowercased(&json!("admin")), None);
        assert_eq!(lowercased(&json!("Admin")), Some(json!("admin")));
        assert_eq!(lowercased(&json!(["a", "B"])), Some(json!(["a", "b"])));
        assert_eq!(lowercased(&json!(["a", 1])), None);
        assert!(lowercases_values("Token_Policies"));
        assert!(!lowercases_values("ttl"));
    }
}
