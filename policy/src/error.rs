//! Why a policy (or a policy name) was rejected.

use std::fmt;

/// Renders `" on line N"` when the line is known (HCL input), nothing otherwise (JSON input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OnLine(pub(crate) Option<usize>);

impl fmt::Display for OnLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, " on line {line}"),
            None => Ok(()),
        }
    }
}

/// A policy text that cannot be accepted, or an invalid policy name. Messages follow OpenBao's
/// (`failed to parse policy: path "x": invalid capability "y"`), with the line added where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is neither valid HCL nor valid JSON.
    #[error("failed to parse policy: {message} (line {line}, column {column})")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A top-level key other than `path` (or the ignored `name`).
    #[error("failed to parse policy: invalid key {key:?}{}", OnLine(*line))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Line of the key, when known.
        line: Option<usize>,
    },
    /// A `path` entry that is not a single label followed by a body.
    #[error("failed to parse policy: {reason}{}", OnLine(*line))]
    Malformed {
        /// What is wrong.
        reason: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A key inside a `path` block that OpenBao does not know.
    #[error("failed to parse policy: path {path:?}: invalid key {key:?}{}", OnLine(*line))]
    UnknownPathKey {
        /// The path label.
        path: String,
        /// The key as written.
        key: String,
        /// Line of the key, when known.
        line: Option<usize>,
    },
    /// The same key twice in one `path` block.
    #[error("failed to parse policy: path {path:?}: duplicate key {key:?}{}", OnLine(*line))]
    DuplicateKey {
        /// The path label.
        path: String,
        /// The repeated key.
        key: String,
        /// Line of the second occurrence, when known.
        line: Option<usize>,
    },
    /// A capability name that does not exist.
    #[error("failed to parse policy: path {path:?}: invalid capability {capability:?}{}", OnLine(*line))]
    InvalidCapability {
        /// The path label.
        path: String,
        /// The capability as written.
        capability: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A legacy `policy = "..."` value other than read, write, deny or sudo.
    #[error("failed to parse policy: path {path:?}: invalid policy {value:?}{}", OnLine(*line))]
    InvalidLegacyPolicy {
        /// The path label.
        path: String,
        /// The value as written.
        value: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A value of the wrong shape (`capabilities = "read"` where a list of strings is expected is fine, a
    /// number is not).
    #[error("failed to parse policy: path {path:?}: {key}: {reason}{}", OnLine(*line))]
    InvalidValue {
        /// The path label.
        path: String,
        /// The key whose value is wrong.
        key: String,
        /// What was expected.
        reason: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// `min_wrapping_ttl` or `max_wrapping_ttl` is not a duration.
    #[error("failed to parse policy: path {path:?}: error parsing {key}: {source}{}", OnLine(*line))]
    InvalidDuration {
        /// The path label.
        path: String,
        /// Which key.
        key: String,
        /// Why the duration was rejected.
        source: api_spec::duration::DurationError,
        /// Line, when known.
        line: Option<usize>,
    },
    /// `max_wrapping_ttl` is below `min_wrapping_ttl` in one block.
    #[error(
        "failed to parse policy: path {path:?}: max_wrapping_ttl cannot be less than min_wrapping_ttl{}",
        OnLine(*line)
    )]
    WrappingTtlOrder {
        /// The path label.
        path: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// `+*` in a path: a segment wildcard cannot also be the glob.
    #[error("failed to parse policy: path {path:?}: invalid use of wildcards ('+*' is forbidden){}", OnLine(*line))]
    InvalidWildcard {
        /// The path label.
        path: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// `{{` and `}}` do not pair up in a templated path.
    #[error(
        "failed to parse policy: failed to validate policy templating: path {path:?}: unbalanced templating characters{}",
        OnLine(*line)
    )]
    UnbalancedTemplate {
        /// The path label.
        path: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A key OpenBao accepts but Coffer does not enforce, rejected rather than silently ignored because
    /// ignoring it would grant more than the author meant (`control_group`).
    #[error("failed to parse policy: path {path:?}: {key} is not supported{}", OnLine(*line))]
    Unsupported {
        /// The path label.
        path: String,
        /// The key.
        key: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A policy name that cannot be used.
    #[error("invalid policy name: {0}")]
    InvalidName(&'static str),
    /// A password policy text that is neither valid HCL nor valid JSON.
    #[error("invalid password policy: {message} (line {line}, column {column})")]
    PasswordPolicySyntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A password policy value of the wrong shape (a string `length`, an unknown key in a rule, ...).
    #[error("invalid password policy: {reason}{}", OnLine(*line))]
    InvalidPasswordPolicy {
        /// What is wrong.
        reason: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// `length` missing or outside the accepted range.
    #[error(
        "invalid password policy: length must be between {min} and {max} characters, got {length}"
    )]
    PasswordLength {
        /// The length as written (0 when missing).
        length: i64,
        /// Smallest accepted length.
        min: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// A `rule` block whose type is not `charset`.
    #[error("invalid password policy: unrecognized rule type {rule_type:?}{}", OnLine(*line))]
    UnknownPasswordRule {
        /// The rule type as written.
        rule_type: String,
        /// Line, when known.
        line: Option<usize>,
    },
    /// No `charset` rule, so there is nothing to draw characters from.
    #[error("invalid password policy: no charset specified: at least one charset rule is required")]
    NoCharsetRule,
    /// A `charset` rule with a missing or empty `charset`.
    #[error("invalid password policy: rule {rule}: charset must not be empty{}", OnLine(*line))]
    EmptyCharset {
        /// 1-based position of the rule.
        rule: usize,
        /// Line, when known.
        line: Option<usize>,
    },
    /// A `charset` holding a character that is not printable (control, format, separator, private use).
    #[error("invalid password policy: rule {rule}: non-printable character U+{code:04X} in charset{}", OnLine(*line))]
    NonPrintableCharset {
        /// 1-based position of the rule.
        rule: usize,
        /// The offending code point.
        code: u32,
        /// Line, when known.
        line: Option<usize>,
    },
    /// The rules' `min-chars` add up to more than `length`.
    #[error(
        "invalid password policy: specified rules require at least {required} characters but {length} is specified"
    )]
    MinCharsExceedLength {
        /// Sum of every rule's `min-chars`.
        required: usize,
        /// The policy's length.
        length: usize,
    },
    /// The de-duplicated union of all charsets is longer than allowed.
    #[error(
        "invalid password policy: combined charset has {len} distinct characters, at most {max} are allowed"
    )]
    CharsetTooLong {
        /// Distinct characters across all rules.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No random candidate satisfied every rule within the attempt budget: the policy is too restrictive
    /// to be practical. A server-side failure (500), not a malformed request.
    #[error(
        "failed to generate password: no candidate satisfied the policy after {attempts} attempts"
    )]
    PasswordGenerationExhausted {
        /// Candidates tried.
        attempts: u64,
    },
    /// The system random number generator failed. A server-side failure (500).
    #[error("failed to generate password: the system random number generator failed")]
    RandomUnavailable,
}

impl PolicyError {
    /// The 1-based line the error refers to, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Syntax { line, .. } => Some(*line),
            PolicyError::UnknownKey { line, .. }
            | PolicyError::Malformed { line, .. }
            | PolicyError::UnknownPathKey { line, .. }
            | PolicyError::DuplicateKey { line, .. }
            | PolicyError::InvalidCapability { line, .. }
            | PolicyError::InvalidLegacyPolicy { line, .. }
            | PolicyError::InvalidValue { line, .. }
            | PolicyError::InvalidDuration { line, .. }
            | PolicyError::WrappingTtlOrder { line, .. }
            | PolicyError::InvalidWildcard { line, .. }
            | PolicyError::UnbalancedTemplate { line, .. }
            | PolicyError::Unsupported { line, .. }
            | PolicyError::InvalidPasswordPolicy { line, .. }
            | PolicyError::UnknownPasswordRule { line, .. }
            | PolicyError::EmptyCharset { line, .. }
            | PolicyError::NonPrintableCharset { line, .. } => *line,
            PolicyError::PasswordPolicySyntax { line, .. } => Some(*line),
            PolicyError::InvalidName(_)
            | PolicyError::PasswordLength { .. }
            | PolicyError::NoCharsetRule
            | PolicyError::MinCharsExceedLength { .. }
            | PolicyError::CharsetTooLong { .. }
            | PolicyError::PasswordGenerationExhausted { .. }
            | PolicyError::RandomUnavailable => None,
        }
    }

    /// Whether the error is the caller's fault (HTTP 400): true for every parse and validation error,
    /// false for the password-generation failures, which are server-side (500).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            PolicyError::PasswordGenerationExhausted { .. } | PolicyError::RandomUnavailable
        )
    }
}
