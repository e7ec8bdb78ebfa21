//! Vault-compatible output: aligned tables, Go-style value rendering, JSON, text wrapping.

use serde::Serialize;
use serde_json::{Map, Value};

use super::secret::Secret;

/// Width vault wraps explanatory text to.
const MAX_LINE_LENGTH: usize = 78;
/// Column separator of vault tables.
const GLUE: &str = "    ";

/// Align rows into columns like vault's `columnize` (cells trimmed, empty cells shown as `n/a`,
/// four spaces between columns, the last column unpadded). No trailing newline.
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| {
                    let trimmed = cell.trim();
                    if trimmed.is_empty() {
                        "n/a".to_owned()
                    } else {
                        trimmed.to_owned()
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            let len = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(len),
                None => widths.push(len),
            }
        }
    }
    let mut lines = Vec::with_capacity(cells.len());
    for row in &cells {
        let mut line = String::new();
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i != last {
                let width = widths.get(i).copied().unwrap_or(0);
                line.extend(std::iter::repeat_n(
                    ' ',
                    width.saturating_sub(cell.chars().count()),
                ));
                line.push_str(GLUE);
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// A table whose first row is a header, underlined with dashes (vault's `tableOutput`).
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all = Vec::with_capacity(rows.len() + 2);
    all.push(header.iter().map(|h| (*h).to_owned()).collect());
    all.push(
        header
            .iter()
            .map(|h| "-".repeat(h.trim().chars().count()))
            .collect(),
    );
    all.extend(rows);
    columns(&all)
}

/// A `Key`/`Value` table.
pub(crate) fn key_value_table(rows: Vec<(String, String)>) -> String {
    table(
        &["Key", "Value"],
        rows.into_iter().map(|(k, v)| vec![k, v]).collect(),
    )
}

/// Render a JSON value the way Go's `fmt.Sprintf("%v")` renders the decoded value.
pub(crate) fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_value).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", map.get(k).map(go_value).unwrap_or_default()))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Render a string list the way Go's `%q` renders a `[]string` (`["a" "b"]`).
pub(crate) fn go_quoted_list(items: Option<&[String]>) -> String {
    let inner: Vec<String> = items
        .unwrap_or_default()
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", inner.join(" "))
}

/// Whether vault prints a field as a duration (`ttl`, `*_ttl`, `period`, ...).
pub(crate) fn looks_like_duration(key: &str) -> bool {
    key == "period"
        || key.ends_with("_period")
        || key == "ttl"
        || key.ends_with("_ttl")
        || key == "duration"
        || key.ends_with("_duration")
        || key == "lease_max"
        || key == "ttl_max"
}

/// Seconds as a Go duration without trailing zero units (`768h`, `1h1m`, `90s` → `1m30s`).
pub(crate) fn human_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let abs = secs.unsigned_abs();
    let (h, m, s) = (abs / 3600, (abs % 3600) / 60, abs % 60);
    let mut out = sign.to_owned();
    if h > 0 {
        out.push_str(&format!("{h}h"));
        if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        if s > 0 {
            out.push_str(&format!("{s}s"));
        }
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
        if s > 0 {
            out.push_str(&format!("{s}s"));
        }
    } else {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Render a data value for a table row, humanizing integer durations like vault.
fn table_cell(key: &str, value: &Value) -> String {
    if looks_like_duration(key)
        && let Some(secs) = value.as_i64()
    {
        return human_duration(secs);
    }
    go_value(value)
}

/// The rows of a data map, sorted by key.
pub(crate) fn map_rows(map: &Map<String, Value>) -> Vec<(String, String)> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| map.get(k).map(|v| (k.clone(), table_cell(k, v))))
        .collect()
}

/// The table vault prints for a secret (lease, auth, wrap info, then data), or `None` if there is nothing to print.
pub(crate) fn secret_table(secret: &Secret) -> Option<String> {
    let mut rows: Vec<(String, String)> = Vec::new();
    if secret.lease_duration > 0 {
        if secret.lease_id.is_empty() {
            rows.push((
                "refresh_interval".into(),
                human_duration(secret.lease_duration),
            ));
        } else {
            rows.push(("lease_id".into(), secret.lease_id.clone()));
            rows.push((
                "lease_duration".into(),
                human_duration(secret.lease_duration),
            ));
            rows.push(("lease_renewable".into(), secret.renewable.to_string()));
        }
    }
    if let Some(auth) = &secret.auth {
        rows.push(("token".into(), auth.client_token.to_string()));
        rows.push(("token_accessor".into(), auth.accessor.clone()));
        let duration = if auth.lease_duration == 0 {
            "∞".to_owned()
        } else {
            human_duration(auth.lease_duration)
        };
        rows.push(("token_duration".into(), duration));
        rows.push(("token_renewable".into(), auth.renewable.to_string()));
        rows.push((
            "token_policies".into(),
            go_quoted_list(auth.token_policies.as_deref()),
        ));
        rows.push((
            "identity_policies".into(),
            go_quoted_list(auth.identity_policies.as_deref()),
        ));
        rows.push(("policies".into(), go_quoted_list(auth.policies.as_deref())));
        if let Some(meta) = &auth.metadata {
            for (k, v) in meta {
                rows.push((format!("token_meta_{k}"), v.clone()));
            }
        }
    }
    if let Some(Value::Object(wrap)) = &secret.wrap_info {
        let field = |k: &str| wrap.get(k).map(go_value).unwrap_or_default();
        rows.push(("wrapping_token:".into(), field("token")));
        rows.push(("wrapping_accessor:".into(), field("accessor")));
        let ttl = wrap
            .get("ttl")
            .and_then(Value::as_i64)
            .map_or_else(|| field("ttl"), human_duration);
        rows.push(("wrapping_token_ttl:".into(), ttl));
        rows.push((
            "wrapping_token_creation_time:".into(),
            go_time_string(&field("creation_time")),
        ));
        rows.push((
            "wrapping_token_creation_path:".into(),
            field("creation_path"),
        ));
        if wrap
            .get("wrapped_accessor")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            rows.push(("wrapped_accessor:".into(), field("wrapped_accessor")));
        }
    }
    if let Some(data) = &secret.data {
        rows.extend(map_rows(data));
    }
    if rows.is_empty() {
        None
    } else {
        Some(key_value_table(rows))
    }
}

/// The warning block vault prints to stderr before a secret's output.
pub(crate) fn warnings_block(warnings: &[String]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let mut out = String::from("WARNING! The following warnings were returned from Vault:\n\n");
    for warning in warnings {
        out.push_str(&wrap_at_length(&format!("* {warning}"), 2));
        out.push_str("\n\n");
    }
    Some(out)
}

/// Wrap text to vault's line length with minimal raggedness (like `kr/text`), indenting every line by `pad`.
pub(crate) fn wrap_at_length(text: &str, pad: usize) -> String {
    let limit = MAX_LINE_LENGTH.saturating_sub(pad);
    let flat = text.trim().replace('\n', " ");
    let words: Vec<&str> = flat.split(' ').collect();
    let lines = wrap_words(&words, limit);
    let indent = " ".repeat(pad);
    lines
        .iter()
        .map(|line| format!("{indent}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Minimal-raggedness line breaking: cost is the squared slack per line, overlong lines heavily penalized.
fn wrap_words(words: &[&str], limit: usize) -> Vec<String> {
    const PENALTY: i64 = 100_000;
    let n = words.len();
    let widths: Vec<i64> = words
        .iter()
        .map(|w| i64::try_from(w.chars().count()).unwrap_or(i64::MAX / 4))
        .collect();
    // prefix[i] = total width of words[..i]; a line i..=j is prefix[j+1]-prefix[i] plus j-i spaces.
    let mut prefix = Vec::with_capacity(n + 1);
    let mut running = 0i64;
    prefix.push(running);
    for w in &widths {
        running += w;
        prefix.push(running);
    }
    let line_len = |i: usize, j: usize| -> i64 {
        let words_width =
            prefix.get(j + 1).copied().unwrap_or(0) - prefix.get(i).copied().unwrap_or(0);
        words_width + i64::try_from(j - i).unwrap_or(0)
    };
    let lim = i64::try_from(limit).unwrap_or(i64::MAX / 4);
    let mut cost = vec![i64::MAX; n];
    let mut brk = vec![n; n];
    for i in (0..n).rev() {
        if line_len(i, n - 1) <= lim || i == n - 1 {
            if let Some(c) = cost.get_mut(i) {
                *c = 0;
            }
            continue;
        }
        for j in (i + 1)..n {
            let len = line_len(i, j - 1);
            let slack = lim - len;
            let mut c = slack
                .saturating_mul(slack)
                .saturating_add(cost.get(j).copied().unwrap_or(0));
            if len > lim {
                c = c.saturating_add(PENALTY);
            }
            if cost.get(i).is_some_and(|&best| c < best) {
                if let Some(slot) = cost.get_mut(i) {
                    *slot = c;
                }
                if let Some(slot) = brk.get_mut(i) {
                    *slot = j;
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        let next = brk.get(i).copied().unwrap_or(n).max(i + 1);
        lines.push(words.get(i..next).unwrap_or_default().join(" "));
        i = next;
    }
    lines
}

/// Center `header` in equal signs for a section `total_len` wide (vault's `padEqualSigns`).
pub(crate) fn pad_equal_signs(header: &str, total_len: usize) -> String {
    let mut signs = total_len.saturating_sub(header.len() + 2);
    if signs == 0 {
        signs = 4;
    }
    if !signs.is_multiple_of(2) {
        signs += 1;
    }
    let side = "=".repeat(signs / 2);
    format!("{side} {header} {side}")
}

/// The section header vault prints above a map's table (`== Data ==`), sized to the longest key.
pub(crate) fn header_for_map(header: &str, map: Option<&Map<String, Value>>) -> String {
    let longest = map
        .into_iter()
        .flat_map(|m| m.keys())
        .map(String::len)
        .max()
        .unwrap_or(0);
    // Four for the column gap and five for "Value".
    pad_equal_signs(header, longest + 4 + 5)
}

/// An RFC 3339 timestamp as Go's `time.Time.String()` prints it (`2026-11-22 03:11:42.498659707 +0000 UTC`);
/// other inputs are returned as is.
pub(crate) fn go_time_string(timestamp: &str) -> String {
    let parse = || -> Option<String> {
        let (date, rest) = timestamp.split_once('T')?;
        let (clock, zone) = if let Some(clock) = rest.strip_suffix('Z') {
            (clock, "+0000 UTC".to_owned())
        } else {
            let at = rest.rfind(['+', '-'])?;
            let (clock, offset) = rest.split_at(at);
            let compact = offset.replace(':', "");
            (clock, format!("{compact} {compact}"))
        };
        let (hms, nanos) = clock.split_once('.').unwrap_or((clock, ""));
        if date.len() != 10 || hms.len() != 8 || !nanos.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let nanos = nanos.trim_end_matches('0');
        let fraction = if nanos.is_empty() {
            String::new()
        } else {
            format!(".{nanos}")
        };
        Some(format!("{date} {hms}{fraction} {zone}"))
    };
    parse().unwrap_or_else(|| timestamp.to_owned())
}

/// Recursively sort object keys, as Go's encoder does for maps.
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Indented JSON as Go's `json.MarshalIndent(v, "", "  ")` prints it (HTML characters escaped).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    // Go escapes these; they can only occur inside JSON strings, so a textual replace is exact.
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Format an RFC 3339 UTC timestamp as Go's RFC 822 layout (`02 Jan 06 15:04 UTC`); other inputs are returned as is.
pub(crate) fn rfc822_utc(timestamp: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parse = || -> Option<String> {
        let (date, time) = timestamp.split_once('T')?;
        let mut parts = date.split('-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        if !timestamp.ends_with('Z') || year.len() != 4 {
            return None;
        }
        let month_name = MONTHS.get(month.parse::<usize>().ok()?.checked_sub(1)?)?;
        let hhmm = time.get(..5)?;
        Some(format!("{day} {month_name} {} {hhmm} UTC", year.get(2..)?))
    };
    parse().unwrap_or_else(|| timestamp.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_like_columnize() {
        let out = key_value_table(vec![
            ("Seal Type".into(), "shamir".into()),
            ("Unseal Nonce".into(), String::new()),
            ("Version".into(), "2.7.2".into()),
        ]);
        assert_eq!(
            out,
            "Key             Value\n---             -----\nSeal Type       shamir\nUnseal Nonce    n/a\nVersion         2.7.2"
        );
    }

    #[test]
    fn single_column_table() {
        assert_eq!(
            table(&["Keys"], vec![vec!["a".into()], vec!["bb/".into()]]),
            "Keys\n----\na\nbb/"
        );
    }

    #[test]
    fn go_values() {
        assert_eq!(go_value(&json!(null)), "<nil>");
        assert_eq!(go_value(&json!(["root", "x"])), "[root x]");
        assert_eq!(
            go_value(&json!({"max_lease_ttl": 0, "force_no_cache": false, "a": {"b": "c"}})),
            "map[a:map[b:c] force_no_cache:false max_lease_ttl:0]"
        );
        assert_eq!(go_quoted_list(Some(&["root".to_owned()])), "[\"root\"]");
        assert_eq!(go_quoted_list(None), "[]");
    }

    #[test]
    fn durations_are_humanized() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(90), "1m30s");
        assert_eq!(human_duration(60), "1m");
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(3601), "1h1s");
        assert_eq!(human_duration(2_764_800), "768h");
        assert_eq!(table_cell("ttl", &json!(3600)), "1h");
        assert_eq!(table_cell("ttl", &json!("1h")), "1h");
        assert_eq!(table_cell("count", &json!(3600)), "3600");
    }

    #[test]
    fn secret_table_matches_vault_read() {
        let secret: Secret = serde_json::from_value(json!({
            "request_id": "x", "lease_id": "", "lease_duration": 3600, "renewable": false,
            "data": {"b": "hello", "a": "1", "ttl": "1h"}, "warnings": null
        }))
        .unwrap();
        assert_eq!(
            secret_table(&secret).unwrap(),
            "Key                 Value\n---                 -----\nrefresh_interval    1h\na                   1\nb                   hello\nttl                 1h"
        );
    }

    #[test]
    fn wraps_with_minimal_raggedness() {
        let text = "Success! You are now authenticated. The token information displayed below is already stored in the token helper. You do NOT need to run \"bao login\" again. Future OpenBao requests will automatically use this token.";
        assert_eq!(
            wrap_at_length(text, 0),
            "Success! You are now authenticated. The token information displayed below is\nalready stored in the token helper. You do NOT need to run \"bao login\" again.\nFuture OpenBao requests will automatically use this token."
        );
        let warning = "* Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv list' for this operation.";
        assert_eq!(
            wrap_at_length(warning, 2),
            "  * Invalid path for a versioned K/V secrets engine. See the API docs for\n  the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv\n  list' for this operation."
        );
    }

    #[test]
    fn json_is_sorted_and_escaped() {
        let v = sorted(&json!({"b": 1, "a": {"z": "<&>", "y": []}}));
        assert_eq!(
            to_json(&v),
            "{\n  \"a\": {\n    \"y\": [],\n    \"z\": \"\\u003c\\u0026\\u003e\"\n  },\n  \"b\": 1\n}"
        );
    }

    #[test]
    fn section_headers() {
        assert_eq!(
            pad_equal_signs("Secret Path", "secret/data/foo".len()),
            "= Secret Path ="
        );
        assert_eq!(
            pad_equal_signs("Metadata Path", "secret/metadata/foo".len()),
            "== Metadata Path =="
        );
        let map = |keys: &[&str]| -> Map<String, Value> {
            keys.iter()
                .map(|k| ((*k).to_owned(), Value::Null))
                .collect()
        };
        assert_eq!(header_for_map("Data", Some(&map(&["a"]))), "== Data ==");
        assert_eq!(
            header_for_map("Data", Some(&map(&["a", "bb"]))),
            "=== Data ==="
        );
        assert_eq!(
            header_for_map("Metadata", Some(&map(&["custom_metadata", "version"]))),
            "======= Metadata ======="
        );
        assert_eq!(
            header_for_map("Metadata", Some(&map(&["current_metadata_version"]))),
            "============ Metadata ============"
        );
        assert_eq!(header_for_map("Metadata", None), "== Metadata ==");
        assert_eq!(
            header_for_map(
                "Version 1",
                Some(&map(&["created_time", "deletion_time", "destroyed"]))
            ),
            "====== Version 1 ======"
        );
    }

    #[test]
    fn go_times() {
        assert_eq!(
            go_time_string("2026-11-22T03:11:42.498659707Z"),
            "2026-11-22 03:11:42.498659707 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2026-11-22T03:11:42.5000Z"),
            "2026-11-22 03:11:42.5 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2026-11-22T03:11:42Z"),
            "2026-11-22 03:11:42 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2026-11-22T05:11:42.1+02:00"),
            "2026-11-22 05:11:42.1 +0200 +0200"
        );
        assert_eq!(go_time_string("junk"), "junk");
    }

    #[test]
    fn rfc822() {
        assert_eq!(
            rfc822_utc("2026-11-22T02:24:01.057747879Z"),
            "22 Nov 26 02:24 UTC"
        );
        assert_eq!(rfc822_utc("garbage"), "garbage");
    }
}
