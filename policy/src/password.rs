//! OpenBao-compatible password policies: a length plus `charset` rules, parsed from HCL or JSON, and a
//! generator that draws uniformly from the union of the rules' charsets until every rule is met.
//!
//! ```
//! use policy::password::PasswordPolicy;
//!
//! let p = PasswordPolicy::parse(r#"
//!     length = 12
//!     rule "charset" {
//!       charset   = "abcdefghijklmnopqrstuvwxyz"
//!       min-chars = 1
//!     }
//!     rule "charset" {
//!       charset   = "0123456789"
//!       min-chars = 2
//!     }
//! "#).unwrap();
//! let password = p.generate().unwrap();
//! assert_eq!(password.chars().count(), 12);
//! assert!(p.is_satisfied_by(&password));
//! ```

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::PolicyError;

mod hcl1;

/// Shortest password a policy may ask for (OpenBao's `sys/policies/password` lower bound).
pub const MIN_LENGTH: usize = 4;
/// Longest password a policy may ask for (OpenBao's `sys/policies/password` upper bound).
pub const MAX_LENGTH: usize = 100;
/// Most distinct characters the combined charset may hold: one random byte selects one character.
pub const MAX_CHARSET_LEN: usize = 256;
/// Work budget for one [`PasswordPolicy::generate`] call, in drawn characters: a policy of length `n`
/// gets `CHARACTER_BUDGET / n` candidates. OpenBao bounds the same loop by a one-second timeout; a
/// count keeps this crate free of clocks and makes the bound independent of machine load.
pub const CHARACTER_BUDGET: u64 = 10_000_000;

/// Random bytes fetched per call to the system generator.
const POOL_LEN: usize = 512;

/// A `rule "charset"` block: characters the password may draw from, and how many it must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharsetRule {
    charset: String,
    min_chars: usize,
}

impl CharsetRule {
    /// A rule over `charset` requiring at least `min_chars` of its characters (0: no minimum).
    pub fn new(charset: impl Into<String>, min_chars: usize) -> CharsetRule {
        CharsetRule {
            charset: charset.into(),
            min_chars,
        }
    }

    /// The characters this rule observes, as written.
    pub fn charset(&self) -> &str {
        &self.charset
    }

    /// Minimum number of password characters that must come from [`charset`](Self::charset).
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Whether `password` holds at least `min_chars` characters from this rule's charset.
    fn is_met_by(&self, password: &str) -> bool {
        self.min_chars == 0
            || password
                .chars()
                .filter(|c| self.charset.contains(*c))
                .nth(self.min_chars - 1)
                .is_some()
    }
}

/// A validated password policy. Policy text is configuration, not a secret, so `Debug` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    length: usize,
    rules: Vec<CharsetRule>,
    /// Sorted, de-duplicated union of every rule's charset: what candidates are drawn from.
    alphabet: Vec<char>,
}

impl PasswordPolicy {
    /// Parses policy text as OpenBao does: HCL read with HCL 1's rules (`length = 20` and
    /// `rule "charset" { ... }` blocks, items on one line allowed), or JSON when the text starts with `{`
    /// (`{"length": 20, "rule": [{"charset": [{...}]}]}`), then validates it like [`new`](Self::new).
    /// Unknown top-level keys are ignored, like OpenBao; unknown keys inside a rule are refused, because a
    /// misspelt `min_chars` would silently weaken the policy.
    pub fn parse(text: &str) -> Result<PasswordPolicy, PolicyError> {
        let root = if text.trim_start().starts_with('{') {
            json_root(text)?
        } else {
            hcl1::parse(text)?
        };
        let mut length = None;
        let mut rules = Vec::new();
        for (key, value) in root {
            match key.as_str() {
                "length" => length = Some(integer("length", &value)?),
                "rule" => collect_rules(value, &mut rules)?,
                // OpenBao decodes the top level leniently: anything else is ignored.
                _ => {}
            }
        }
        let length = length.unwrap_or(0);
        let length = usize::try_from(length)
            .ok()
            .filter(|l| (MIN_LENGTH..=MAX_LENGTH).contains(l))
            .ok_or(PolicyError::PasswordLength {
                length,
                min: MIN_LENGTH,
                max: MAX_LENGTH,
            })?;
        validate(length, rules)
    }

    /// Builds a policy from parts, applying OpenBao's checks: length within
    /// [`MIN_LENGTH`]`..=`[`MAX_LENGTH`], at least one rule, no empty or non-printable charset, the sum of
    /// `min-chars` not above the length, at most [`MAX_CHARSET_LEN`] distinct characters overall.
    pub fn new(length: usize, rules: Vec<CharsetRule>) -> Result<PasswordPolicy, PolicyError> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(PolicyError::PasswordLength {
                length: i64::try_from(length).unwrap_or(i64::MAX),
                min: MIN_LENGTH,
                max: MAX_LENGTH,
            });
        }
        validate(
            length,
            rules
                .into_iter()
                .map(|rule| RawRule { rule, line: None })
                .collect(),
        )
    }

    /// The policy OpenBao applies when none is named (the database engine's default): 20 characters with
    /// at least one lowercase letter, one uppercase letter, one digit and one `-`.
    pub fn default_policy() -> PasswordPolicy {
        let rules = vec![
            CharsetRule::new("abcdefghijklmnopqrstuvwxyz", 1),
            CharsetRule::new("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1),
            CharsetRule::new("0123456789", 1),
            CharsetRule::new("-", 1),
        ];
        let alphabet = alphabet(&rules);
        PasswordPolicy {
            length: 20,
            rules,
            alphabet,
        }
    }

    /// Password length, in characters.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The charset rules in written order.
    pub fn rules(&self) -> &[CharsetRule] {
        &self.rules
    }

    /// The sorted, de-duplicated union of all charsets: every generated character comes from here.
    pub fn alphabet(&self) -> &[char] {
        &self.alphabet
    }

    /// Whether `password` could have come from this policy: right length, only alphabet characters,
    /// every rule's minimum met.
    pub fn is_satisfied_by(&self, password: &str) -> bool {
        password.chars().count() == self.length
            && password
                .chars()
                .all(|c| self.alphabet.binary_search(&c).is_ok())
            && self.rules.iter().all(|rule| rule.is_met_by(password))
    }

    /// Generates a password with the operating system's CSPRNG. See [`generate_with`](Self::generate_with).
    pub fn generate(&self) -> Result<Zeroizing<String>, PolicyError> {
        self.generate_with(&SystemRandom::new())
    }

    /// Generates a password: candidates of [`length`](Self::length) characters drawn uniformly from the
    /// [`alphabet`](Self::alphabet) (rejection sampling, no modulo bias) until one meets every rule, within
    /// [`CHARACTER_BUDGET`]. CPU-bound for very restrictive policies: async callers should run it on a
    /// blocking thread.
    pub fn generate_with(&self, rng: &dyn SecureRandom) -> Result<Zeroizing<String>, PolicyError> {
        let attempts =
            (CHARACTER_BUDGET / u64::try_from(self.length.max(1)).unwrap_or(u64::MAX)).max(1);
        self.generate_from(|buf| rng.fill(buf).map_err(|_| RngFailed), attempts)
    }

    /// The generator over any byte source, so tests can feed known bytes.
    fn generate_from(
        &self,
        fill: impl FnMut(&mut [u8]) -> Result<(), RngFailed>,
        attempts: u64,
    ) -> Result<Zeroizing<String>, PolicyError> {
        let mut source = IndexSource::new(fill, self.alphabet.len())?;
        // Per rule, which alphabet positions belong to its charset: the check then works on indices.
        let members: Vec<Vec<bool>> = self
            .rules
            .iter()
            .map(|rule| {
                self.alphabet
                    .iter()
                    .map(|c| rule.charset.contains(*c))
                    .collect()
            })
            .collect();
        let mut candidate = Zeroizing::new(vec![0usize; self.length]);
        for _ in 0..attempts {
            for slot in candidate.iter_mut() {
                *slot = source.next()?;
            }
            let accepted = self.rules.iter().zip(&members).all(|(rule, member)| {
                rule.min_chars == 0
                    || candidate
                        .iter()
                        .filter(|&&i| member.get(i).copied().unwrap_or(false))
                        .nth(rule.min_chars - 1)
                        .is_some()
            });
            if accepted {
                return Ok(self.render(&candidate));
            }
        }
        Err(PolicyError::PasswordGenerationExhausted { attempts })
    }

    /// Alphabet indices to text, in a buffer sized exactly so that it never reallocates (a reallocation
    /// would leave an unzeroized copy behind).
    fn render(&self, indices: &[usize]) -> Zeroizing<String> {
        let chars = || {
            indices
                .iter()
                .filter_map(|&i| self.alphabet.get(i).copied())
        };
        let mut out = Zeroizing::new(String::with_capacity(chars().map(char::len_utf8).sum()));
        out.extend(chars());
        out
    }
}

/// The byte source failed.
struct RngFailed;

/// Uniform indices in `0..n` from a CSPRNG, bytes fetched in zeroized batches.
struct IndexSource<F> {
    fill: F,
    n: usize,
    /// Bytes at or above this are rejected: the largest multiple of `n` that fits in a byte's 256 values.
    limit: usize,
    pool: Zeroizing<[u8; POOL_LEN]>,
    pos: usize,
}

impl<F: FnMut(&mut [u8]) -> Result<(), RngFailed>> IndexSource<F> {
    fn new(fill: F, n: usize) -> Result<IndexSource<F>, PolicyError> {
        if n == 0 || n > MAX_CHARSET_LEN {
            return Err(PolicyError::CharsetTooLong {
                len: n,
                max: MAX_CHARSET_LEN,
            });
        }
        Ok(IndexSource {
            fill,
            n,
            limit: (MAX_CHARSET_LEN / n) * n,
            pool: Zeroizing::new([0; POOL_LEN]),
            pos: POOL_LEN,
        })
    }

    fn next(&mut self) -> Result<usize, PolicyError> {
        loop {
            if self.pos >= POOL_LEN {
                (self.fill)(self.pool.as_mut_slice())
                    .map_err(|_| PolicyError::RandomUnavailable)?;
                self.pos = 0;
            }
            let byte = usize::from(self.pool.get(self.pos).copied().unwrap_or(u8::MAX));
            self.pos += 1;
            if byte < self.limit {
                return Ok(byte % self.n);
            }
        }
    }
}

/// A rule and the line it was written on (HCL only), kept for error messages.
struct RawRule {
    rule: CharsetRule,
    line: Option<usize>,
}

fn validate(length: usize, rules: Vec<RawRule>) -> Result<PasswordPolicy, PolicyError> {
    if rules.is_empty() {
        return Err(PolicyError::NoCharsetRule);
    }
    for (n, raw) in rules.iter().enumerate() {
        if raw.rule.charset.is_empty() {
            return Err(PolicyError::EmptyCharset {
                rule: n + 1,
                line: raw.line,
            });
        }
        if let Some(c) = raw.rule.charset.chars().find(|c| !is_printable(*c)) {
            return Err(PolicyError::NonPrintableCharset {
                rule: n + 1,
                code: u32::from(c),
                line: raw.line,
            });
        }
    }
    let required = rules
        .iter()
        .fold(0usize, |sum, r| sum.saturating_add(r.rule.min_chars));
    if required > length {
        return Err(PolicyError::MinCharsExceedLength { required, length });
    }
    let rules: Vec<CharsetRule> = rules.into_iter().map(|r| r.rule).collect();
    let alphabet = alphabet(&rules);
    if alphabet.len() > MAX_CHARSET_LEN {
        return Err(PolicyError::CharsetTooLong {
            len: alphabet.len(),
            max: MAX_CHARSET_LEN,
        });
    }
    Ok(PasswordPolicy {
        length,
        rules,
        alphabet,
    })
}

fn alphabet(rules: &[CharsetRule]) -> Vec<char> {
    let mut chars: Vec<char> = rules.iter().flat_map(|r| r.charset.chars()).collect();
    chars.sort_unstable();
    chars.dedup();
    chars
}

/// Approximates Go's `unicode.IsPrint` (what OpenBao checks): letters, marks, numbers, punctuation,
/// symbols and the ASCII space. Without Unicode category tables, unassigned code points are let through.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let code = u32::from(c);
    let format_or_private = matches!(
        code,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0xE000..=0xF8FF
            | 0xFDD0..=0xFDEF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..
    );
    // U+xxFFFE and U+xxFFFF are noncharacters in every plane.
    !format_or_private && code & 0xFFFE != 0xFFFE
}

// ---------------------------------------------------------------------------------------------------------
// Text → a small tree shared by both formats, then rules from the tree.

/// A parsed value. Objects keep written order and repeated keys (HCL's repeated `rule` blocks).
#[derive(Debug)]
enum Node {
    Int(i64),
    Float(f64),
    Text(String),
    Other(&'static str),
    List(Vec<Lined>),
    Map(Vec<(String, Lined)>),
}

/// A node and the 1-based line it starts on (HCL only).
#[derive(Debug)]
struct Lined {
    node: Node,
    line: Option<usize>,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Text(_) => "a string",
            Node::Other(kind) => kind,
            Node::List(_) => "a list",
            Node::Map(_) => "an object",
        }
    }
}

fn invalid(reason: String, line: Option<usize>) -> PolicyError {
    PolicyError::InvalidPasswordPolicy { reason, line }
}

/// A whole number (`20`, `20.0`); anything else is refused.
fn integer(key: &str, value: &Lined) -> Result<i64, PolicyError> {
    match value.node {
        Node::Int(i) => Ok(i),
        // The range check keeps the cast exact: f64 holds every integer up to 2^53.
        Node::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        ref other => Err(invalid(
            format!("{key} must be an integer, found {}", other.kind()),
            value.line,
        )),
    }
}

/// `rule` values: a map of rule type → settings (or a list of settings), or a list of such maps.
fn collect_rules(value: Lined, rules: &mut Vec<RawRule>) -> Result<(), PolicyError> {
    match value.node {
        Node::List(items) => items
            .into_iter()
            .try_for_each(|item| collect_rules(item, rules)),
        Node::Map(types) => {
            for (rule_type, settings) in types {
                if rule_type != "charset" {
                    return Err(PolicyError::UnknownPasswordRule {
                        rule_type,
                        line: settings.line.or(value.line),
                    });
                }
                match settings.node {
                    Node::Map(entries) => rules.push(charset_rule(entries, settings.line)?),
                    Node::List(items) => {
                        for item in items {
                            let Node::Map(entries) = item.node else {
                                return Err(invalid(
                                    format!(
                                        "a charset rule must be an object, found {}",
                                        item.node.kind()
                                    ),
                                    item.line,
                                ));
                            };
                            rules.push(charset_rule(entries, item.line)?);
                        }
                    }
                    other => {
                        return Err(invalid(
                            format!("a charset rule must be an object, found {}", other.kind()),
                            settings.line,
                        ));
                    }
                }
            }
            Ok(())
        }
        other => Err(invalid(
            format!(
                "rule must be written rule \"charset\" {{ ... }}, found {}",
                other.kind()
            ),
            value.line,
        )),
    }
}

fn charset_rule(
    entries: Vec<(String, Lined)>,
    line: Option<usize>,
) -> Result<RawRule, PolicyError> {
    let mut charset = String::new();
    let mut min_chars = 0;
    for (key, value) in entries {
        match key.as_str() {
            "charset" => {
                let Node::Text(text) = value.node else {
                    return Err(invalid(
                        format!("charset must be a string, found {}", value.node.kind()),
                        value.line,
                    ));
                };
                charset = text;
            }
            "min-chars" => {
                min_chars = usize::try_from(integer("min-chars", &value)?).map_err(|_| {
                    invalid("min-chars must not be negative".to_owned(), value.line)
                })?;
            }
            _ => {
                let hint = if key == "min_chars" {
                    " (did you mean \"min-chars\"?)"
                } else {
                    ""
                };
                return Err(invalid(
                    format!("charset rule: unknown key {key:?}{hint}"),
                    value.line.or(line),
                ));
            }
        }
    }
    Ok(RawRule {
        rule: CharsetRule { charset, min_chars },
        line,
    })
}

fn json_root(text: &str) -> Result<Vec<(String, Lined)>, PolicyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| PolicyError::PasswordPolicySyntax {
            line: e.line(),
            column: e.column(),
            message: format!("invalid JSON: {e}"),
        })?;
    match json_node(value) {
        Node::Map(entries) => Ok(entries),
        other => Err(invalid(
            format!("a JSON policy must be an object, found {}", other.kind()),
            None,
        )),
    }
}

fn json_node(value: Value) -> Node {
    let unlined = |node| Lined { node, line: None };
    match value {
        Value::Null => Node::Other("null"),
        Value::Bool(_) => Node::Other("a bool"),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Node::Text(s),
        Value::Array(items) => {
            Node::List(items.into_iter().map(|v| unlined(json_node(v))).collect())
        }
        Value::Object(map) => Node::Map(
            map.into_iter()
                .map(|(k, v)| (k, unlined(json_node(v))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
