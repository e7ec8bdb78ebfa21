//! Connection strings: substituting the root credentials into `{{username}}`/`{{password}}`, and taking apart
//! PostgreSQL URLs (`postgres://...?k=v`) and keyword/value strings (`host=... k='v'`) so that the TLS
//! keywords libpq understands but tokio-postgres does not (`sslmode=verify-full`, `sslrootcert`, ...) are
//! handled here.

/// Percent-encodes everything but RFC 3986's unreserved characters (for credentials inside a URL).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` sequences (invalid ones are kept as they are).
pub(crate) fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(text) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(text, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `template` with the root credentials substituted, escaped as given.
pub(crate) fn substitute(template: &str, username: &str, password: &str) -> String {
    template
        .replace("{{username}}", username)
        .replace("{{password}}", password)
}

/// Whether a PostgreSQL connection string is in URL form.
pub(crate) fn is_pg_url(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with("postgres://") || t.starts_with("postgresql://")
}

/// A PostgreSQL connection string with the named keywords taken out: the rest (for tokio-postgres) and the
/// removed `(key, value)` pairs, values decoded.
pub(crate) fn take_pg_params(conn: &str, keys: &[&str]) -> (String, Vec<(String, String)>) {
    if is_pg_url(conn) {
        take_url_params(conn, keys)
    } else {
        take_kv_params(conn, keys)
    }
}

fn take_url_params(conn: &str, keys: &[&str]) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = conn.split_once('?') else {
        return (conn.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if keys.contains(&k) {
            taken.push((k.to_owned(), unescape(v)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, taken)
}

fn take_kv_params(conn: &str, keys: &[&str]) -> (String, Vec<(String, String)>) {
    let chars: Vec<char> = conn.chars().collect();
    let mut i = 0;
    let mut kept: Vec<String> = Vec::new();
    let mut taken = Vec::new();
    let at = |i: usize| chars.get(i).copied();
    loop {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if at(i).is_none() {
            break;
        }
        let start = i;
        let mut key = String::new();
        while let Some(c) = at(i).filter(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
            i += 1;
        }
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        if at(i) == Some('=') {
            i += 1;
            while at(i).is_some_and(char::is_whitespace) {
                i += 1;
            }
            if at(i) == Some('\'') {
                i += 1;
                while let Some(c) = at(i) {
                    i += 1;
                    match c {
                        '\\' => {
                            if let Some(n) = at(i) {
                                value.push(n);
                                i += 1;
                            }
                        }
                        '\'' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = at(i).filter(|c| !c.is_whitespace()) {
                    if c == '\\'
                        && let Some(n) = at(i + 1)
                    {
                        value.push(n);
                        i += 2;
                        continue;
                    }
                    value.push(c);
                    i += 1;
                }
            }
        }
        if keys.contains(&key.as_str()) {
            taken.push((key, value));
        } else {
            kept.push(chars.get(start..i).unwrap_or_default().iter().collect());
        }
    }
    (kept.join(" "), taken)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(escape("p@ss:w/rd#%"), "p%40ss%3Aw%2Frd%23%25");
        assert_eq!(unescape(&escape("p@ss:w/rd#% é")), "p@ss:w/rd#% é");
        assert_eq!(unescape("100%"), "100%");
    }

    #[test]
    fn url_params() {
        let (rest, taken) = take_pg_params(
            "postgresql://u:p@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem",
            &["sslmode", "sslrootcert"],
        );
        assert_eq!(rest, "postgresql://u:p@h:5432/db?application_name=x");
        assert_eq!(
            taken,
            vec![
                ("sslmode".to_owned(), "verify-full".to_owned()),
                ("sslrootcert".to_owned(), "/ca.pem".to_owned())
            ]
        );
        let (rest, taken) = take_pg_params("postgres://h/db?sslmode=disable", &["sslmode"]);
        assert_eq!((rest.as_str(), taken.len()), ("postgres://h/db", 1));
    }

    #[test]
    fn kv_params() {
        let (rest, taken) = take_pg_params(
            "host=h port=5432 sslmode = require user=u password='a b\\'c' sslrootcert=/x",
            &["sslmode", "sslrootcert"],
        );
        assert_eq!(rest, "host=h port=5432 user=u password='a b\\'c'");
        assert_eq!(
            taken,
            vec![
                ("sslmode".to_owned(), "require".to_owned()),
                ("sslrootcert".to_owned(), "/x".to_owned())
            ]
        );
    }
}
