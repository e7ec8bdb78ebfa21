//! The file device's tamper-evidence chain (Coffer extension; OpenBao has none) and its verifier.
//!
//! Every line ends with `,"seq":N,"prev":"P","mac":"M"}` where, under the device's chain key (HMAC-SHA256,
//! lower-case hex):
//! - `seq` counts lines from 1, continuing across rotated files;
//! - `prev` is the HMAC of the previous line's bytes (prefix included, newline excluded), empty for the first
//!   line of a chain; after a rotation the first line of the new file links to the last line of the old one;
//! - `mac` is the HMAC of the line itself up to (excluding) `,"mac"`, so even the last line is protected.
//!
//! Without the key nobody can forge a line that verifies. Deleting lines at the very end of the newest file is
//! only visible against an outside anchor: the `last_seq`/`last_hash` of a report, or the next file's first
//! `prev`.

use std::fmt;
use std::io::BufRead;

use ring::hmac;

const SEQ: &[u8] = b"\"seq\":";
const PREV: &[u8] = b",\"prev\":\"";
const MAC: &[u8] = b",\"mac\":\"";
const HEX_LEN: usize = 64;

/// A chain key, ready to seal and check lines.
pub(crate) struct Chain {
    key: hmac::Key,
}

/// Where a chain stands: the last line written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// Sequence number of the last line (0 = none yet).
    pub(crate) seq: u64,
    /// HMAC of the last line (empty = none yet).
    pub(crate) hash: String,
}

impl Chain {
    /// A chain under `key`.
    pub(crate) fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// Hex HMAC of `bytes`.
    pub(crate) fn hash(&self, bytes: &[u8]) -> String {
        let mut out = String::with_capacity(64);
        crate::hmac::push_hex(&mut out, hmac::sign(&self.key, bytes).as_ref());
        out
    }

    /// A streaming HMAC (for a last line too long to read at once).
    pub(crate) fn context(&self) -> hmac::Context {
        hmac::Context::with_key(&self.key)
    }

    /// The line (with newline) that records `entry` (one JSON object) after `pos`, and the chain's new position.
    pub(crate) fn seal(&self, prefix: &[u8], entry: &[u8], pos: &Position) -> (Vec<u8>, Position) {
        let seq = pos.seq.saturating_add(1);
        let open = entry.strip_suffix(b"}").unwrap_or(entry);
        let mut line = Vec::with_capacity(prefix.len() + entry.len() + 200);
        line.extend_from_slice(prefix);
        line.extend_from_slice(open);
        if !open.ends_with(b"{") {
            line.push(b',');
        }
        line.extend_from_slice(SEQ);
        line.extend_from_slice(seq.to_string().as_bytes());
        line.extend_from_slice(PREV);
        line.extend_from_slice(pos.hash.as_bytes());
        line.push(b'"');
        let mac = self.hash(&line);
        line.extend_from_slice(MAC);
        line.extend_from_slice(mac.as_bytes());
        line.extend_from_slice(b"\"}");
        let hash = self.hash(&line);
        line.push(b'\n');
        (line, Position { seq, hash })
    }
}

/// The chain fields of one line (without its newline), if it carries them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tail<'a> {
    /// The bytes the line's `mac` covers.
    pub(crate) body: &'a [u8],
    pub(crate) seq: u64,
    pub(crate) prev: &'a str,
    pub(crate) mac: &'a str,
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn is_hex(s: &str) -> bool {
    s.len() == HEX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Finds the chain fields at the end of `line`. Ours are the last fields written, so searching from the end
/// finds them even when the entry's data has keys of the same names (JSON escapes quotes inside strings).
pub(crate) fn parse_tail(line: &[u8]) -> Option<Tail<'_>> {
    let inner = line.strip_suffix(b"\"}")?;
    let m = rfind(inner, MAC)?;
    let body = inner.get(..m)?;
    let mac = std::str::from_utf8(inner.get(m + MAC.len()..)?).ok()?;
    if !is_hex(mac) {
        return None;
    }
    let before_quote = body.strip_suffix(b"\"")?;
    let p = rfind(before_quote, PREV)?;
    let prev = std::str::from_utf8(before_quote.get(p + PREV.len()..)?).ok()?;
    if !(prev.is_empty() || is_hex(prev)) {
        return None;
    }
    let head = before_quote.get(..p)?;
    let s = rfind(head, SEQ)?;
    let digits = std::str::from_utf8(head.get(s + SEQ.len()..)?).ok()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = digits.parse().ok()?;
    Some(Tail {
        body,
        seq,
        prev,
        mac,
    })
}

/// What was found wrong at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tamper {
    /// The line's content does not match its MAC, or it carries no chain fields: edited (or not ours).
    Edited,
    /// Lines are missing before this one (a gap in `seq` that no later line fills).
    Deleted {
        /// The sequence number that should have come here.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
    /// Lines are out of order (a `seq` that comes later or earlier than its place).
    Reordered,
    /// The line is intact and in sequence but does not link to the line before it (or, for the first line,
    /// to the expected predecessor): lines removed at the head, or a line spliced in from another chain.
    BrokenLink,
    /// The last line is incomplete (no trailing newline): the file was truncated or a write was cut short.
    Truncated,
    /// The file could not be read.
    Unreadable(String),
}

/// The first problem found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong there.
    pub tamper: Tamper,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Lines found intact (all of them when there is no failure; those before it otherwise).
    pub lines: u64,
    /// `seq` of the first line.
    pub first_seq: Option<u64>,
    /// `seq` of the last intact line.
    pub last_seq: Option<u64>,
    /// HMAC of the last intact line: pass it as `expect_first_prev` to verify the next (rotated) file.
    pub last_hash: Option<String>,
    /// The first problem, if any.
    pub failure: Option<Failure>,
}

impl VerifyReport {
    /// Whether the whole input verified.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(
                f,
                "OK: {} lines (seq {}..{})",
                self.lines,
                self.first_seq.unwrap_or(0),
                self.last_seq.unwrap_or(0)
            ),
            Some(Failure { line, tamper }) => {
                let what = match tamper {
                    Tamper::Edited => "edited (content does not match its MAC)".to_owned(),
                    Tamper::Deleted {
                        expected_seq,
                        found_seq,
                    } => format!(
                        "lines deleted before it (expected seq {expected_seq}, found {found_seq})"
                    ),
                    Tamper::Reordered => "out of order".to_owned(),
                    Tamper::BrokenLink => "does not link to the line before it".to_owned(),
                    Tamper::Truncated => "truncated (incomplete last line)".to_owned(),
                    Tamper::Unreadable(e) => format!("unreadable: {e}"),
                };
                write!(f, "FAILED at line {line}: {what}")
            }
        }
    }
}

/// Reads the next line into `buf` (newline kept). `Ok(false)` at end of input.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    Ok(reader.read_until(b'\n', buf)? > 0)
}

/// Checks a file device's log (one file, or several concatenated in order) against `chain_key`.
/// `expect_first_prev` is the previous file's `last_hash` when verifying a rotated file on its own; `None`
/// accepts whatever the first line links to.
pub fn verify(
    mut reader: impl BufRead,
    chain_key: &[u8],
    expect_first_prev: Option<&str>,
) -> VerifyReport {
    let chain = Chain::new(chain_key);
    let mut report = VerifyReport::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let fail = |report: &mut VerifyReport, line: u64, tamper: Tamper| {
        report.failure = Some(Failure { line, tamper });
    };
    loop {
        match next_line(&mut reader, &mut buf) {
            Ok(true) => {}
            Ok(false) => return report,
            Err(e) => {
                fail(&mut report, line_no + 1, Tamper::Unreadable(e.to_string()));
                return report;
            }
        }
        line_no += 1;
        let Some(line) = buf.strip_suffix(b"\n") else {
            fail(&mut report, line_no, Tamper::Truncated);
            return report;
        };
        let Some(tail) = parse_tail(line) else {
            fail(&mut report, line_no, Tamper::Edited);
            return report;
        };
        if chain.hash(tail.body) != tail.mac {
            fail(&mut report, line_no, Tamper::Edited);
            return report;
        }
        let linked = report.last_hash.as_deref() == Some(tail.prev);
        match report.last_seq {
            None => {
                if expect_first_prev.is_some_and(|p| p != tail.prev) {
                    fail(&mut report, line_no, Tamper::BrokenLink);
                    return report;
                }
                report.first_seq = Some(tail.seq);
            }
            Some(last) => {
                let expected = last.saturating_add(1);
                if tail.seq < expected {
                    fail(&mut report, line_no, Tamper::Reordered);
                    return report;
                }
                if tail.seq > expected {
                    let found = tail.seq;
                    let tamper = if later_has_seq(&mut reader, &mut buf, expected) {
                        Tamper::Reordered
                    } else {
                        Tamper::Deleted {
                            expected_seq: expected,
                            found_seq: found,
                        }
                    };
                    fail(&mut report, line_no, tamper);
                    return report;
                }
                if !linked {
                    fail(&mut report, line_no, Tamper::BrokenLink);
                    return report;
                }
            }
        }
        report.lines += 1;
        report.last_seq = Some(tail.seq);
        report.last_hash = Some(chain.hash(line));
    }
}

/// Whether a later line carries `seq` (tells a reordering from a deletion).
fn later_has_seq(reader: &mut impl BufRead, buf: &mut Vec<u8>, seq: u64) -> bool {
    while let Ok(true) = next_line(reader, buf) {
        let line = buf.strip_suffix(b"\n").unwrap_or(buf);
        if parse_tail(line).is_some_and(|t| t.seq == seq) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = &[9u8; 32];

    fn lines(n: u64) -> Vec<Vec<u8>> {
        let chain = Chain::new(KEY);
        let mut pos = Position::default();
        (1..=n)
            .map(|i| {
                let entry = format!(r#"{{"type":"request","request":{{"id":"{i}","data":{{"seq":"x","mac":"y"}}}}}}"#);
                let (line, next) = chain.seal(b"", entry.as_bytes(), &pos);
                pos = next;
                line
            })
            .collect()
    }

    fn check(lines: &[Vec<u8>]) -> VerifyReport {
        verify(&lines.concat()[..], KEY, None)
    }

    #[test]
    fn sealed_lines_are_json_and_parse_back() {
        let l = lines(2);
        let v: serde_json::Value = serde_json::from_slice(&l[1]).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["request"]["data"]["seq"], "x");
        let t = parse_tail(l[1].strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(t.seq, 2);
        assert_eq!(
            t.prev,
            Chain::new(KEY).hash(l[0].strip_suffix(b"\n").unwrap())
        );
        let first = parse_tail(l[0].strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(first.prev, "");
    }

    #[test]
    fn empty_object_entry_stays_valid_json() {
        let (line, _) = Chain::new(KEY).seal(b"", b"{}", &Position::default());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["seq"], 1);
    }

    #[test]
    fn untouched_passes_with_count() {
        let r = check(&lines(5));
        assert!(r.is_ok(), "{r}");
        assert_eq!(r.lines, 5);
        assert_eq!((r.first_seq, r.last_seq), (Some(1), Some(5)));
        assert!(check(&[]).is_ok());
    }

    #[test]
    fn edits_deletions_reorders_truncation_pinpointed() {
        let mut l = lines(6);
        l[2] = String::from_utf8(l[2].clone())
            .unwrap()
            .replace("\"3\"", "\"9\"")
            .into_bytes();
        assert_eq!(
            check(&l).failure,
            Some(Failure {
                line: 3,
                tamper: Tamper::Edited
            })
        );

        let mut l = lines(6);
        l.remove(3);
        assert_eq!(
            check(&l).failure,
            Some(Failure {
                line: 4,
                tamper: Tamper::Deleted {
                    expected_seq: 4,
                    found_seq: 5
                }
            })
        );

        let mut l = lines(6);
        l.swap(1, 2);
        assert_eq!(
            check(&l).failure,
            Some(Failure {
                line: 2,
                tamper: Tamper::Reordered
            })
        );

        let mut l = lines(6);
        let last = l.last_mut().unwrap();
        last.truncate(last.len() - 10);
        let r = check(&l);
        assert_eq!(
            r.failure,
            Some(Failure {
                line: 6,
                tamper: Tamper::Truncated
            })
        );
        assert_eq!(r.lines, 5);

        // A line duplicated (replayed) is out of order.
        let mut l = lines(4);
        l.insert(2, l[1].clone());
        assert_eq!(
            check(&l).failure,
            Some(Failure {
                line: 3,
                tamper: Tamper::Reordered
            })
        );
    }

    #[test]
    fn expected_first_prev_links_files() {
        let l = lines(4);
        let first = check(&l[..2]);
        let second = verify(&l[2..].concat()[..], KEY, first.last_hash.as_deref());
        assert!(second.is_ok(), "{second}");
        // Dropping the head of the second file breaks the link.
        let r = verify(&l[3..].concat()[..], KEY, first.last_hash.as_deref());
        assert_eq!(
            r.failure,
            Some(Failure {
                line: 1,
                tamper: Tamper::BrokenLink
            })
        );
        // A wrong key finds nothing intact.
        let r = verify(&l.concat()[..], &[0u8; 32], None);
        assert_eq!(
            r.failure,
            Some(Failure {
                line: 1,
                tamper: Tamper::Edited
            })
        );
    }
}
