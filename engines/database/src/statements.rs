//! Role statements: how OpenBao lets them be written (a JSON array, a `;`-separated string, either one
//! base64-encoded), split into single SQL statements without breaking quoted text, dollar-quoted bodies
//! (`DO $$ ... $$`) or comments, and rendered with `{{name}}`, `{{username}}`, `{{password}}` and
//! `{{expiration}}`.

use base64::Engine as _;

/// Which quoting rules apply while splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `'...'` with `''`, `E'...'` with backslash escapes, `"..."` identifiers, `$tag$...$tag$` bodies.
    Postgres,
    /// `'...'`/`"..."` with backslash escapes, `` `...` `` identifiers, `#` comments.
    Mysql,
}

/// The values substituted into a statement; absent ones leave their placeholder alone.
#[derive(Default, Clone, Copy)]
pub struct Vars<'a> {
    /// `{{name}}` and `{{username}}`.
    pub name: Option<&'a str>,
    /// `{{password}}`.
    pub password: Option<&'a str>,
    /// `{{expiration}}`.
    pub expiration: Option<&'a str>,
}

/// Expands stored statements into single SQL statements, in order: each entry may be base64, a JSON array
/// of strings, or text with several `;`-separated statements.
pub fn split_all(entries: &[String], dialect: Dialect) -> Vec<String> {
    entries
        .iter()
        .flat_map(|e| decode_entry(e))
        .flat_map(|text| split(&text, dialect))
        .collect()
}

/// Substitutes `vars` into one statement.
pub fn render(stmt: &str, vars: Vars<'_>) -> String {
    let mut out = stmt.to_owned();
    if let Some(n) = vars.name {
        out = out.replace("{{name}}", n).replace("{{username}}", n);
    }
    if let Some(p) = vars.password {
        out = out.replace("{{password}}", p);
    }
    if let Some(e) = vars.expiration {
        out = out.replace("{{expiration}}", e);
    }
    out
}

/// One stored entry as text(s): base64 is decoded first, then a JSON array of strings is unpacked.
fn decode_entry(entry: &str) -> Vec<String> {
    let trimmed = entry.trim();
    let text = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .ok()
        .filter(|_| !trimmed.is_empty())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| entry.to_owned());
    if text.trim_start().starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(&text)
    {
        return items;
    }
    vec![text]
}

/// Splits `text` on `;` outside quotes, dollar-quoted bodies and comments; trims and drops empty pieces.
pub fn split(text: &str, dialect: Dialect) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        match c {
            ';' => {
                push(&mut out, &mut cur);
                i += 1;
                continue;
            }
            '\'' | '"' | '`' if c != '`' || dialect == Dialect::Mysql => {
                // Postgres E'...' strings honour backslash escapes; MySQL strings always do.
                let backslash = dialect == Dialect::Mysql
                    || (c == '\''
                        && matches!(at(i.wrapping_sub(1)), Some('e' | 'E'))
                        && !at(i.wrapping_sub(2)).is_some_and(|p| p.is_alphanumeric() || p == '_'));
                let end = quoted_end(&chars, i, c, backslash);
                cur.extend(chars.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            '$' if dialect == Dialect::Postgres => {
                if let Some(tag_len) = dollar_tag(&chars, i) {
                    let tag: Vec<char> = chars.get(i..i + tag_len).unwrap_or_default().to_vec();
                    let body_start = i + tag_len;
                    let end = find_seq(&chars, body_start, &tag)
                        .map(|p| p + tag_len)
                        .unwrap_or(chars.len());
                    cur.extend(chars.get(i..end).unwrap_or_default());
                    i = end;
                    continue;
                }
            }
            '-' if at(i + 1) == Some('-') => {
                let end = line_end(&chars, i);
                cur.extend(chars.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            '#' if dialect == Dialect::Mysql => {
                let end = line_end(&chars, i);
                cur.extend(chars.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            '/' if at(i + 1) == Some('*') => {
                let end = find_seq(&chars, i + 2, &['*', '/'])
                    .map(|p| p + 2)
                    .unwrap_or(chars.len());
                cur.extend(chars.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    push(&mut out, &mut cur);
    out
}

fn push(out: &mut Vec<String>, cur: &mut String) {
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_owned());
    }
    cur.clear();
}

/// Index just past the quote closing the one at `start` (a doubled quote is an escaped one), or the end.
fn quoted_end(chars: &[char], start: usize, quote: char, backslash: bool) -> usize {
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        if backslash && c == '\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

/// The length of a dollar-quote tag (`$$`, `$body$`) starting at `i`, if one does.
fn dollar_tag(chars: &[char], i: usize) -> Option<usize> {
    // `$1` is a parameter and `a$b$` part of an identifier, not a tag.
    if i > 0
        && chars
            .get(i - 1)
            .is_some_and(|p| p.is_alphanumeric() || *p == '_')
    {
        return None;
    }
    let mut j = i + 1;
    while let Some(&c) = chars.get(j) {
        if c == '$' {
            return Some(j - i + 1);
        }
        let ok = if j == i + 1 {
            c.is_alphabetic() || c == '_'
        } else {
            c.is_alphanumeric() || c == '_'
        };
        if !ok {
            return None;
        }
        j += 1;
    }
    None
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> Option<usize> {
    (from..chars.len()).find(|&p| chars.get(p..p + seq.len()) == Some(seq))
}

fn line_end(chars: &[char], from: usize) -> usize {
    (from..chars.len())
        .find(|&p| chars.get(p) == Some(&'\n'))
        .unwrap_or(chars.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn semicolon_string_and_array() {
        let got = split_all(
            &s(&[
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
                "  ",
                "SELECT 1",
            ]),
            Dialect::Postgres,
        );
        assert_eq!(
            got,
            s(&[
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'",
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\"",
                "SELECT 1"
            ])
        );
    }

    #[test]
    fn json_and_base64_entries() {
        let json = r#"["CREATE USER 'a'@'%'", "GRANT SELECT ON *.* TO 'a'@'%'; FLUSH PRIVILEGES"]"#;
        let expect = s(&[
            "CREATE USER 'a'@'%'",
            "GRANT SELECT ON *.* TO 'a'@'%'",
            "FLUSH PRIVILEGES",
        ]);
        assert_eq!(split_all(&s(&[json]), Dialect::Mysql), expect);
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(split_all(&[b64], Dialect::Mysql), expect);
        let b64 = base64::engine::general_purpose::STANDARD.encode("SELECT 1; SELECT 2");
        assert_eq!(
            split_all(&[b64], Dialect::Mysql),
            s(&["SELECT 1", "SELECT 2"])
        );
    }

    #[test]
    fn do_blocks_stay_whole() {
        let block = "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'x') THEN\n    CREATE ROLE x; GRANT y TO x;\n  END IF;\nEND\n$$";
        let text = format!("CREATE ROLE \"{{{{name}}}}\"; {block}; SELECT 1");
        let got = split(&text, Dialect::Postgres);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1], block);
        let tagged = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql";
        assert_eq!(split(tagged, Dialect::Postgres), s(&[tagged]));
    }

    #[test]
    fn quotes_and_comments() {
        let got = split(
            "SELECT 'a;b', \"c;d\", E'x\\';y'; -- note; here\nSELECT $1; /* c; */ SELECT 'it''s;'",
            Dialect::Postgres,
        );
        assert_eq!(
            got,
            s(&[
                "SELECT 'a;b', \"c;d\", E'x\\';y'",
                "-- note; here\nSELECT $1",
                "/* c; */ SELECT 'it''s;'"
            ])
        );
        let got = split("SELECT 'a\\';b', `c;d` # x;y\n; SELECT 2", Dialect::Mysql);
        assert_eq!(got, s(&["SELECT 'a\\';b', `c;d` # x;y", "SELECT 2"]));
    }

    #[test]
    fn rendering() {
        let v = Vars {
            name: Some("v-x"),
            password: Some("pw"),
            expiration: Some("2030-01-01 00:00:00+0000"),
        };
        assert_eq!(
            render(
                "CREATE ROLE \"{{name}}\" PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; -- {{username}}",
                v
            ),
            "CREATE ROLE \"v-x\" PASSWORD 'pw' VALID UNTIL '2030-01-01 00:00:00+0000'; -- v-x"
        );
        assert_eq!(render("{{password}}", Vars::default()), "{{password}}");
    }
}
