//! Go-compatible durations as Vault reads and writes them.
//!
//! [`parse`] follows Vault's `parseutil.ParseDurationSecond`: a bare integer is seconds, a trailing `d` means
//! whole days, anything else goes through Go's `time.ParseDuration`. Unlike Go, negative durations are
//! rejected, because every duration Coffer reads (TTLs, timeouts) must be non-negative.
//! [`format`] prints like Go's `time.Duration.String()` (`1h30m0s`, `768h0m0s`, `1.5s`, `0s`).

use std::fmt::Write as _;
use std::time::Duration;

/// Largest duration Go can represent (`1<<63 - 1` nanoseconds, about 292 years); larger inputs are errors,
/// as in Vault.
pub const MAX: Duration = Duration::new(9_223_372_036, 854_775_807);

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Go's overflow bound while accumulating (`1<<63`).
const GO_LIMIT: u64 = 1 << 63;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a duration at all, or larger than [`MAX`].
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit inside a compound duration (`1h30`).
    #[error("missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h` (or a trailing `d`).
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// A negative duration; Vault's TTLs and timeouts cannot be negative.
    #[error("duration {0:?} must not be negative")]
    Negative(String),
}

/// Parses a duration the way Vault does: `""` and `"0"` are zero, `"3600"` is seconds, `"7d"` is whole days,
/// otherwise Go syntax (`"1h30m"`, `"1.5h"`, `"250ms"`).
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    // Bare integer seconds first, exactly as Vault tries strconv.ParseInt before anything else.
    if let Ok(secs) = s.parse::<i64>() {
        return whole_units(secs, 1, s);
    }
    if let Some(days) = s.strip_suffix('d') {
        // Vault only accepts an integer before `d` ("1.5d" and "1d12h" are errors).
        let Ok(days) = days.parse::<i64>() else {
            return Err(DurationError::Invalid(s.to_owned()));
        };
        return whole_units(days, 24 * 60 * 60, s);
    }
    parse_go(s)
}

/// `count * unit_secs` seconds, rejecting negatives and values past Go's range.
fn whole_units(count: i64, unit_secs: u64, input: &str) -> Result<Duration, DurationError> {
    let Ok(count) = u64::try_from(count) else {
        return Err(DurationError::Negative(input.to_owned()));
    };
    let secs = count
        .checked_mul(unit_secs)
        .ok_or_else(|| DurationError::Invalid(input.to_owned()))?;
    let d = Duration::from_secs(secs);
    if d > MAX {
        return Err(DurationError::Invalid(input.to_owned()));
    }
    Ok(d)
}

/// Nanoseconds per Go unit.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        // U+00B5 (micro sign) and U+03BC (Greek mu), as Go accepts both.
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`, with negative results rejected. Fractions are converted through `f64` like Go
/// does, so results match to the nanosecond.
fn parse_go(orig: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(orig.to_owned());
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (int, rest, had_int) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let (mut frac, mut scale, mut had_frac) = (0_u64, 1.0_f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let (f, sc, rest2, consumed) = leading_fraction(rest);
            (frac, scale, had_frac) = (f, sc, consumed);
            s = rest2;
        }
        if !had_int && !had_frac {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(orig.to_owned()));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let Some(unit_ns) = unit_nanos(unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
                input: orig.to_owned(),
            });
        };
        if int > GO_LIMIT / unit_ns {
            return Err(invalid());
        }
        let mut v = int * unit_ns;
        if frac > 0 {
            // Same float arithmetic as Go, so "1.1h" etc. round identically.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "mirrors Go's uint64(float64(f) * (float64(unit) / scale)); the value is bounded by one hour in ns"
            )]
            let add = (frac as f64 * (unit_ns as f64 / scale)) as u64;
            v = v.checked_add(add).ok_or_else(invalid)?;
            if v > GO_LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > GO_LIMIT {
            return Err(invalid());
        }
    }
    if neg && total > 0 {
        return Err(DurationError::Negative(orig.to_owned()));
    }
    if total > GO_LIMIT - 1 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total))
}

/// Go's `leadingInt`: digits at the front of `s`. `None` on overflow. The flag says whether any digit was read.
fn leading_int(s: &str) -> Option<(u64, &str, bool)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    let mut x: u64 = 0;
    for b in digits.bytes() {
        if x > GO_LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(b - b'0');
        if x > GO_LIMIT {
            return None;
        }
    }
    Some((x, rest, end > 0))
}

/// Go's `leadingFraction`: digits after the point, ignoring those that no longer fit.
fn leading_fraction(s: &str) -> (u64, f64, &str, bool) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    let (mut x, mut scale, mut overflow) = (0_u64, 1.0_f64, false);
    for b in digits.bytes() {
        if overflow {
            continue;
        }
        if x > (GO_LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > GO_LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, rest, end > 0)
}

/// Formats like Go's `time.Duration.String()`: `"1h30m0s"`, `"768h0m0s"`, `"1.5s"`, `"250ms"`, `"0s"`.
pub fn format(d: Duration) -> String {
    let mut u = d.as_nanos();
    if u == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if u < u128::from(NANOS_PER_SEC) {
        // Below a second Go switches to the largest sub-second unit that keeps an integer part.
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        let frac = frac_digits(&mut u, prec);
        let _ = write!(out, "{u}{frac}{unit}");
        return out;
    }
    let frac = frac_digits(&mut u, 9);
    let secs = u % 60;
    u /= 60;
    if u > 0 {
        let mins = u % 60;
        u /= 60;
        if u > 0 {
            let _ = write!(out, "{u}h");
        }
        let _ = write!(out, "{mins}m");
    }
    let _ = write!(out, "{secs}{frac}s");
    out
}

/// Go's `fmtFrac`: takes the low `prec` decimal digits off `v` and returns them as `".ddd"` without trailing
/// zeros (empty when they are all zero).
fn frac_digits(v: &mut u128, prec: u32) -> String {
    let div = 10_u128.pow(prec);
    let frac = *v % div;
    *v /= div;
    if frac == 0 {
        return String::new();
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

/// Serde helper for `#[serde(with = "...")]`: reads a duration from a number of seconds (`3600`) or a string
/// (`"1h"`, `"3600"`, `"7d"`); writes whole seconds, as Vault's responses carry TTLs.
pub mod serde_seconds_or_string {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    /// Writes the duration as whole seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    /// Reads seconds (integer, or a float with no fractional part) or a duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(SecondsOrString)
    }

    struct SecondsOrString;

    impl Visitor<'_> for SecondsOrString {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of seconds or a duration string such as \"1h30m\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            let d = Duration::from_secs(v);
            if d > super::MAX {
                return Err(E::custom(super::DurationError::Invalid(v.to_string())));
            }
            Ok(d)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::custom(super::DurationError::Negative(v.to_string()))),
            }
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            // Vault reads JSON numbers as text and then needs an integer, so `1.5` is refused there too;
            // `3600.0` is accepted as a harmless leniency.
            if v.fract() != 0.0 || !v.is_finite() {
                return Err(E::custom(super::DurationError::MissingUnit(v.to_string())));
            }
            if v < 0.0 {
                return Err(E::custom(super::DurationError::Negative(v.to_string())));
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked integral and non-negative above; saturation is caught by the MAX check"
            )]
            self.visit_u64(v as u64)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            super::parse(v).map_err(E::custom)
        }
    }

    /// The same for `Option<Duration>`: absent or `null` is `None`. Use with `#[serde(default)]`.
    pub mod option {
        use std::time::Duration;

        use serde::de::Deserializer;
        use serde::ser::Serializer;
        use serde::{Deserialize, Serialize};

        #[derive(Deserialize, Serialize)]
        #[serde(transparent)]
        struct Wrapped(#[serde(with = "super")] Duration);

        /// Writes `Some` as whole seconds and `None` as `null`.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            d.map(Wrapped).serialize(s)
        }

        /// Reads `null` as `None`, otherwise like [`super::deserialize`].
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn parse_table() {
        let ok: &[(&str, Duration)] = &[
            ("", Duration::ZERO),
            ("0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("3600", Duration::from_secs(H)),
            ("+5", Duration::from_secs(5)),
            ("007", Duration::from_secs(7)),
            ("7d", Duration::from_secs(7 * 24 * H)),
            ("0d", Duration::ZERO),
            ("768h", Duration::from_secs(768 * H)),
            ("1h30m", Duration::from_secs(H + 1800)),
            ("1.5h", Duration::from_secs(H + 1800)),
            ("1h0m0s", Duration::from_secs(H)),
            ("90s", Duration::from_secs(90)),
            ("30m", Duration::from_secs(1800)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("250ms", Duration::from_millis(250)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("10\u{3bc}s", Duration::from_micros(10)),
            ("15ns", Duration::from_nanos(15)),
            ("1h1m1s1ms1us1ns", Duration::new(H + 61, 1_001_001)),
            ("1.1h", Duration::from_secs(3960)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("0.0000000001s", Duration::ZERO),
            ("2562047h47m16.854775807s", MAX),
        ];
        for (input, want) in ok {
            assert_eq!(parse(input).as_ref(), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases: &[(&str, DurationError)] = &[
            ("-5", DurationError::Negative("-5".into())),
            ("-1h", DurationError::Negative("-1h".into())),
            ("-1d", DurationError::Negative("-1d".into())),
            ("abc", DurationError::Invalid("abc".into())),
            ("1.5d", DurationError::Invalid("1.5d".into())),
            (
                "1d12h",
                DurationError::UnknownUnit {
                    unit: "d".into(),
                    input: "1d12h".into(),
                },
            ),
            ("d", DurationError::Invalid("d".into())),
            (".s", DurationError::Invalid(".s".into())),
            ("-", DurationError::Invalid("-".into())),
            ("1.5", DurationError::MissingUnit("1.5".into())),
            ("1h30", DurationError::MissingUnit("1h30".into())),
            (
                "5w",
                DurationError::UnknownUnit {
                    unit: "w".into(),
                    input: "5w".into(),
                },
            ),
            (
                "1H",
                DurationError::UnknownUnit {
                    unit: "H".into(),
                    input: "1H".into(),
                },
            ),
            (" 1h", DurationError::Invalid(" 1h".into())),
            (
                "2562047h47m16.854775808s",
                DurationError::Invalid("2562047h47m16.854775808s".into()),
            ),
            ("9223372037", DurationError::Invalid("9223372037".into())),
            ("106751992d", DurationError::Invalid("106751992d".into())),
            (
                "99999999999999999999h",
                DurationError::Invalid("99999999999999999999h".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).as_ref(), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn format_table() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1100), "1.1\u{b5}s"),
            (Duration::from_micros(10), "10\u{b5}s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(2200), "2.2ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(H), "1h0m0s"),
            (Duration::from_secs(H + 1800), "1h30m0s"),
            (Duration::from_secs(768 * H), "768h0m0s"),
            (Duration::new(H + 61, 1_001_001), "1h1m1.001001001s"),
            (MAX, "2562047h47m16.854775807s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(*d), *want, "duration {d:?}");
        }
    }

    #[test]
    fn format_then_parse_round_trips() {
        for d in [
            Duration::from_nanos(7),
            Duration::from_micros(1234),
            Duration::new(5, 5),
            Duration::from_secs(32 * 24 * H),
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Ttl {
        #[serde(with = "serde_seconds_or_string")]
        ttl: Duration,
        #[serde(default, with = "serde_seconds_or_string::option")]
        max: Option<Duration>,
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        let cases = [
            (r#"{"ttl": 3600}"#, Duration::from_secs(H), None),
            (r#"{"ttl": "3600"}"#, Duration::from_secs(H), None),
            (
                r#"{"ttl": "1h", "max": "2h"}"#,
                Duration::from_secs(H),
                Some(Duration::from_secs(2 * H)),
            ),
            (
                r#"{"ttl": 60.0, "max": null}"#,
                Duration::from_secs(60),
                None,
            ),
            (
                r#"{"ttl": "", "max": 7}"#,
                Duration::ZERO,
                Some(Duration::from_secs(7)),
            ),
        ];
        for (json, ttl, max) in cases {
            let got: Ttl = serde_json::from_str(json).unwrap();
            assert_eq!(got, Ttl { ttl, max }, "json {json}");
        }
    }

    #[test]
    fn serde_rejects_bad_values() {
        for json in [
            r#"{"ttl": -1}"#,
            r#"{"ttl": "-1s"}"#,
            r#"{"ttl": 1.5}"#,
            r#"{"ttl": "soon"}"#,
            r#"{"ttl": true}"#,
            r#"{"ttl": 9223372037}"#,
        ] {
            assert!(serde_json::from_str::<Ttl>(json).is_err(), "json {json}");
        }
        let err = serde_json::from_str::<Ttl>(r#"{"ttl": "-1s"}"#).unwrap_err();
        assert!(err.to_string().contains("must not be negative"), "{err}");
    }

    #[test]
    fn serde_writes_seconds() {
        let v = Ttl {
            ttl: Duration::from_millis(90_500),
            max: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"ttl": 90, "max": 60})
        );
    }
}
