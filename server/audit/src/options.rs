//! Device options: the string map of `sys/audit/:path` `options`, read with OpenBao's leniency and strictness
//! about unknown keys (a typo must not silently leave a device unconfigured).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::AuditError;
use crate::format::FormatOptions;

/// Options every device type accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Common {
    /// HMAC / elision settings.
    pub(crate) format: FormatOptions,
    /// Text written before every line.
    pub(crate) prefix: String,
    /// Skip the test entry at enable.
    pub(crate) skip_test: bool,
}

/// The options map being consumed: each reader removes what it understands; [`Options::finish`] rejects the
/// rest.
pub(crate) struct Options {
    map: BTreeMap<String, String>,
}

impl Options {
    /// Wraps a device's options.
    pub(crate) fn new(map: &BTreeMap<String, String>) -> Self {
        Self { map: map.clone() }
    }

    /// Removes and returns `key`.
    pub(crate) fn take(&mut self, key: &str) -> Option<String> {
        self.map.remove(key)
    }

    /// Removes `key` and parses it as a Go boolean (`strconv.ParseBool` forms).
    pub(crate) fn take_bool(&mut self, key: &str, default: bool) -> Result<bool, AuditError> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => parse_bool(&v).ok_or_else(|| {
                AuditError::InvalidRequest(format!("option {key:?} must be a boolean, got {v:?}"))
            }),
        }
    }

    /// Removes `key` and parses it as a duration (`"2s"`, or bare seconds).
    pub(crate) fn take_duration(
        &mut self,
        key: &str,
        default: Duration,
    ) -> Result<Duration, AuditError> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => api_spec::duration::parse(v.trim()).map_err(|e| {
                AuditError::InvalidRequest(format!("option {key:?} is not a duration: {e}"))
            }),
        }
    }

    /// Reads the options every device type accepts.
    pub(crate) fn common(&mut self, allow_prefixing: bool) -> Result<Common, AuditError> {
        match self.take("format").as_deref().map(str::trim) {
            None | Some("" | "json") => {}
            Some("jsonx") => {
                return Err(AuditError::InvalidRequest(
                    "format \"jsonx\" is not supported (OpenBao removed it); omit \"format\" or set it to \"json\"".into(),
                ));
            }
            Some(other) => {
                return Err(AuditError::InvalidRequest(format!(
                    "unknown format {other:?}; the only format is \"json\""
                )));
            }
        }
        let prefix = self.take("prefix").unwrap_or_default();
        if !prefix.is_empty() && !allow_prefixing {
            return Err(AuditError::InvalidRequest(
                "option \"prefix\" is refused: the server configuration does not set allow_audit_log_prefixing = true".into(),
            ));
        }
        Ok(Common {
            format: FormatOptions {
                log_raw: self.take_bool("log_raw", false)?,
                hmac_accessor: self.take_bool("hmac_accessor", true)?,
                elide_list_responses: self.take_bool("elide_list_responses", false)?,
            },
            prefix,
            skip_test: self.take_bool("skip_test", false)?,
        })
    }

    /// Fails on any option nobody consumed.
    pub(crate) fn finish(self, kind: &str) -> Result<(), AuditError> {
        if self.map.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        Err(AuditError::InvalidRequest(format!(
            "unknown option(s) for audit device type {kind:?}: {}",
            names.join(", ")
        )))
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Options {
        Options::new(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn defaults_match_openbao() {
        let mut o = opts(&[]);
        let c = o.common(false).unwrap();
        assert!(!c.format.log_raw);
        assert!(c.format.hmac_accessor);
        assert!(!c.format.elide_list_responses);
        assert!(!c.skip_test);
        assert!(c.prefix.is_empty());
        o.finish("file").unwrap();
    }

    #[test]
    fn rejects_jsonx_unknown_options_bad_bools_and_ungated_prefix() {
        let e = opts(&[("format", "jsonx")]).common(false).unwrap_err();
        assert!(e.to_string().contains("jsonx"), "{e}");
        let e = opts(&[("log_raw", "yes")]).common(false).unwrap_err();
        assert!(e.to_string().contains("log_raw"), "{e}");
        let e = opts(&[("prefix", "x")]).common(false).unwrap_err();
        assert!(e.to_string().contains("allow_audit_log_prefixing"), "{e}");
        assert_eq!(opts(&[("prefix", "x")]).common(true).unwrap().prefix, "x");
        let mut o = opts(&[("fil_path", "/tmp/x")]);
        o.common(false).unwrap();
        let e = o.finish("file").unwrap_err();
        assert!(
            matches!(e, AuditError::InvalidRequest(ref m) if m.contains("fil_path")),
            "{e}"
        );
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("yes"), None);
    }
}
