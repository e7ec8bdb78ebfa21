//! `key=value` argument parsing with vault's `@file` and `-` (stdin) conventions.

use std::io::Read;

use serde_json::{Map, Value};

/// Errors of [`parse_kv_args`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// One argument could not be used.
    #[error("invalid key/value pair {}: {reason}", quote(.arg))]
    Pair {
        /// The argument as typed.
        arg: String,
        /// Why it was rejected.
        reason: String,
    },
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| s.to_owned())
}

/// Build a JSON object from `k=v` arguments:
/// `k=@file` reads the value from a file (`k=\@x` is the literal `@x`), `k=-` reads stdin,
/// a lone `-` merges a JSON object from stdin, a lone `@file` merges a JSON object from a file,
/// and a repeated key becomes a list.
pub fn parse_kv_args(args: &[String], stdin: &mut dyn Read) -> Result<Map<String, Value>, KvError> {
    let mut result = Map::new();
    let mut stdin_used = false;
    for arg in args {
        add(arg, &mut result, stdin, &mut stdin_used).map_err(|reason| KvError::Pair {
            arg: arg.clone(),
            reason,
        })?;
    }
    Ok(result)
}

fn take_stdin(stdin: &mut dyn Read, used: &mut bool) -> Result<String, String> {
    if *used {
        return Err("stdin already consumed".to_owned());
    }
    *used = true;
    let mut text = String::new();
    stdin.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

fn merge_json(text: &str, result: &mut Map<String, Value>) -> Result<(), String> {
    let object: Map<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    result.extend(object);
    Ok(())
}

fn add(
    raw: &str,
    result: &mut Map<String, Value>,
    stdin: &mut dyn Read,
    stdin_used: &mut bool,
) -> Result<(), String> {
    if raw.is_empty() {
        return Ok(());
    }
    let Some((key, value)) = raw.split_once('=') else {
        if raw == "-" {
            let text = take_stdin(stdin, stdin_used)?;
            return merge_json(&text, result);
        }
        if let Some(path) = raw.strip_prefix('@') {
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
            return merge_json(&text, result);
        }
        return Err("format must be key=value".to_owned());
    };
    let value = if let Some(path) = value.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| format!("error reading file: {e}"))?
    } else if let Some(literal) = value.strip_prefix('\\').filter(|v| v.starts_with('@')) {
        literal.to_owned()
    } else if value == "-" {
        take_stdin(stdin, stdin_used)?
    } else {
        value.to_owned()
    };
    match result.get_mut(key) {
        Some(Value::Array(items)) => items.push(Value::String(value)),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, Value::String(value)]);
        }
        None => {
            result.insert(key.to_owned(), Value::String(value));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn plain_pairs_and_repeats() {
        let map = parse_kv_args(
            &args(&["a=1", "b=x=y", "a=2", "", "c="]),
            &mut std::io::empty(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a": ["1", "2"], "b": "x=y", "c": ""})
        );
    }

    #[test]
    fn files_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.txt");
        std::fs::write(&file, "from-file\n").unwrap();
        let json_file = dir.path().join("o.json");
        std::fs::write(&json_file, r#"{"j": 1}"#).unwrap();
        let list = vec![
            format!("f=@{}", file.display()),
            "lit=\\@x".to_owned(),
            "s=-".to_owned(),
            format!("@{}", json_file.display()),
        ];
        let map = parse_kv_args(&list, &mut "stdin-value".as_bytes()).unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"f": "from-file\n", "lit": "@x", "s": "stdin-value", "j": 1})
        );
    }

    #[test]
    fn lone_dash_merges_a_json_object() {
        let map =
            parse_kv_args(&args(&["-", "b=2"]), &mut r#"{"a": {"n": 1}}"#.as_bytes()).unwrap();
        assert_eq!(Value::Object(map), json!({"a": {"n": 1}, "b": "2"}));
    }

    #[test]
    fn errors() {
        let err = parse_kv_args(&args(&["novalue"]), &mut std::io::empty()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid key/value pair \"novalue\": format must be key=value"
        );
        let err = parse_kv_args(&args(&["a=-", "b=-"]), &mut "x".as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid key/value pair \"b=-\": stdin already consumed"
        );
        let err = parse_kv_args(&args(&["-"]), &mut "[1]".as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid key/value pair \"-\": "),
            "{err}"
        );
        assert!(parse_kv_args(&args(&["a=@/nonexistent/file"]), &mut std::io::empty()).is_err());
    }
}
