//! The checks OpenBao's `ParseACLPolicy` makes on structure, keys and capabilities, and the printer's
//! duplicate-attribute check.

use super::FmtError;
use super::lex::{Kind, Token};
use super::parse::{Block, Value};

const TOP_KEYS: &[&str] = &["name", "path"];
const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];
const CAPABILITIES: &[&str] = &[
    "create", "read", "update", "delete", "list", "sudo", "patch", "scan",
];

/// A string token's value (quotes and escapes removed), or an identifier as is.
pub(super) fn unquote(token: &Token) -> String {
    if token.kind == Kind::Str {
        serde_json::from_str::<String>(&token.text)
            .unwrap_or_else(|_| token.text.trim_matches('"').to_owned())
    } else {
        token.text.clone()
    }
}

/// go-multierror's rendering of a list of errors.
fn multierror(errors: &[String]) -> String {
    let count = if errors.len() == 1 {
        "1 error occurred".to_owned()
    } else {
        format!("{} errors occurred", errors.len())
    };
    let items: Vec<String> = errors.iter().map(|e| format!("\t* {e}")).collect();
    format!("{count}:\n{}\n\n", items.join("\n"))
}

fn check_keys(block: &Block, valid: &[&str]) -> Result<(), String> {
    let errors: Vec<String> = block
        .items
        .iter()
        .filter_map(|item| {
            let key = item.keys.first().map(unquote).unwrap_or_default();
            (!valid.contains(&key.as_str())).then(|| {
                format!(
                    "invalid key {} on line {}",
                    go_quote(&key),
                    item.assign.unwrap_or(0)
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(multierror(&errors))
    }
}

pub(super) fn go_quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| text.to_owned())
}

pub(super) fn validate(file: &Block) -> Result<(), FmtError> {
    check_keys(file, TOP_KEYS).map_err(FmtError::Invalid)?;
    for item in file
        .items
        .iter()
        .filter(|i| i.keys.first().map(unquote).as_deref() == Some("path"))
    {
        let label = item.keys.get(1).map_or_else(|| "path".to_owned(), unquote);
        let prefix = format!("path {}:", go_quote(&label));
        let Value::Object(body) = &item.value else {
            return Err(FmtError::Invalid(format!(
                "{prefix} cannot check HCL keys of type {}",
                match item.value {
                    Value::List { .. } => "*ast.ListType",
                    _ => "*ast.LiteralType",
                }
            )));
        };
        check_keys(body, PATH_KEYS).map_err(|e| FmtError::Invalid(format!("{prefix} {e}")))?;
        let invalid = |what: &str, value: &str| {
            FmtError::Invalid(format!(
                "{prefix} {prefix} invalid {what} {}",
                go_quote(value)
            ))
        };
        for entry in &body.items {
            let key = entry.keys.first().map(unquote).unwrap_or_default();
            let strings: Vec<String> = match &entry.value {
                Value::Literal(token) => vec![unquote(token)],
                Value::List { items, .. } => items
                    .iter()
                    .filter_map(|e| match &e.value {
                        Value::Literal(token) => Some(unquote(token)),
                        _ => None,
                    })
                    .collect(),
                Value::Object(_) => Vec::new(),
            };
            match key.as_str() {
                "policy" => {
                    if let Some(policy) = strings.first().filter(|p| !p.is_empty())
                        && !matches!(policy.as_str(), "deny" | "read" | "write" | "sudo")
                    {
                        return Err(invalid("policy", policy));
                    }
                }
                "capabilities" => {
                    if let Value::Literal(token) = &entry.value {
                        return Err(FmtError::Invalid(format!(
                            "{prefix} {prefix} At {}:{}: unknown slice type: *ast.LiteralType",
                            token.line, token.column
                        )));
                    }
                    for capability in &strings {
                        if capability == "deny" {
                            break;
                        }
                        if !CAPABILITIES.contains(&capability.as_str()) {
                            return Err(invalid("capability", capability));
                        }
                    }
                }
                _ => {}
            }
        }
        check_wrapping_ttls(body, &prefix)?;
    }
    Ok(())
}

/// A wrapping TTL value in seconds: a number, or a string in vault's duration syntax.
fn wrapping_ttl(value: &Value) -> Result<Option<i64>, String> {
    let Value::Literal(token) = value else {
        return Ok(None);
    };
    let text = unquote(token);
    if token.kind == Kind::Number {
        return text
            .parse::<f64>()
            .map(|secs| Some(secs as i64))
            .map_err(|_| {
                format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(&text)
                )
            });
    }
    crate::cli::args::GoDuration::parse(&text)
        .map(|d| Some(d.secs()))
        .map_err(|_| format!("time: invalid duration {}", go_quote(&text)))
}

/// OpenBao rejects unparsable wrapping TTLs and a maximum below the minimum.
fn check_wrapping_ttls(body: &Block, prefix: &str) -> Result<(), FmtError> {
    let mut ttls = [0i64; 2];
    for (slot, key) in ["min_wrapping_ttl", "max_wrapping_ttl"]
        .into_iter()
        .enumerate()
    {
        let Some(entry) = body
            .items
            .iter()
            .rev()
            .find(|i| i.keys.first().map(unquote).as_deref() == Some(key))
        else {
            continue;
        };
        let secs = wrapping_ttl(&entry.value)
            .map_err(|e| FmtError::Invalid(format!("{prefix} error parsing {key}: {e}")))?;
        if let (Some(secs), Some(target)) = (secs, ttls.get_mut(slot)) {
            *target = secs;
        }
    }
    if let [min, max] = ttls
        && min != 0
        && max != 0
        && max < min
    {
        return Err(FmtError::Invalid(format!(
            "{prefix} max_wrapping_ttl cannot be less than min_wrapping_ttl"
        )));
    }
    Ok(())
}

/// HCL's printer refuses an attribute set twice in one object (`Error printing result: ...`).
pub(super) fn check_duplicates(block: &Block) -> Result<(), String> {
    // The parser checks each attribute as it completes it, after the objects nested in its value.
    let mut seen: Vec<&str> = Vec::new();
    for item in &block.items {
        check_value_duplicates(&item.value)?;
        if let (Some(key), Some(_), 1) = (item.keys.first(), item.assign, item.keys.len()) {
            if seen.contains(&key.text.as_str()) {
                return Err(format!(
                    "The argument {} at {}:{} was already set. Each argument can only be defined once",
                    go_quote(&key.text),
                    key.line,
                    key.column
                ));
            }
            seen.push(&key.text);
        }
    }
    Ok(())
}

fn check_value_duplicates(value: &Value) -> Result<(), String> {
    match value {
        Value::Object(block) => check_duplicates(block),
        Value::List { items, .. } => items
            .iter()
            .try_for_each(|e| check_value_duplicates(&e.value)),
        Value::Literal(_) => Ok(()),
    }
}
