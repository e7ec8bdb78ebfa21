//! The two time formats policies use: a path's `expiration` (RFC 3339 or Unix seconds, as OpenBao's
//! `ParseAbsoluteTime` accepts) and the Unix seconds `{{time.now}}` templates produce.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `2026-01-02T15:04:05Z`, `2026-01-02T15:04:05.5+02:00` or `1767366245` (Unix seconds).
pub(crate) fn parse_absolute(s: &str) -> Option<SystemTime> {
    if let Ok(secs) = s.parse::<i64>() {
        return from_unix(secs, 0);
    }
    parse_rfc3339(s)
}

/// Unix seconds of `t`, rounding toward negative infinity like Go's `Time.Unix`.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos)))
    }
}

fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = b.get(19..)?;
    let mut nanos: u32 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        let (frac_digits, after) = frac.split_at(len);
        for (i, d) in frac_digits.iter().enumerate() {
            let scale = 10u32.pow(8 - u32::try_from(i).ok()?);
            nanos += u32::from(d - b'0') * scale;
        }
        rest = after;
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            if rest.len() != 6 || rest.get(3) != Some(&b':') {
                return None;
            }
            let oh = digits(rest, 1, 2)?;
            let om = digits(rest, 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    from_unix(secs, nanos)
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<u32> {
    let slice = b.get(start..start + len)?;
    slice.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(s: &str) -> Option<i64> {
        parse_absolute(s).map(unix_seconds)
    }

    #[test]
    fn parses_rfc3339_and_epoch() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2006-01-02T15:04:05Z", Some(1_136_214_245)),
            ("2006-01-02T15:04:05+07:00", Some(1_136_214_245 - 7 * 3600)),
            ("2006-01-02T15:04:05-01:30", Some(1_136_214_245 + 5400)),
            ("2006-01-02T15:04:05.999999999Z", Some(1_136_214_245)),
            ("2000-02-29T00:00:00Z", Some(951_782_400)),
            ("1969-12-31T23:59:59Z", Some(-1)),
            ("1767366245", Some(1_767_366_245)),
            ("-5", Some(-5)),
            ("2001-02-29T00:00:00Z", None),
            ("2006-01-02 15:04:05Z", None),
            ("2006-01-02T15:04:05", None),
            ("2006-01-02T15:04:05.Z", None),
            ("2006-13-02T15:04:05Z", None),
            ("2006-01-02T24:00:00Z", None),
            ("", None),
            ("tomorrow", None),
        ];
        for (input, want) in cases {
            assert_eq!(unix(input), *want, "{input}");
        }
    }

    #[test]
    fn fraction_is_kept() {
        let t = parse_absolute("1970-01-01T00:00:01.25Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_millis(1250)
        );
        let before = parse_absolute("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(unix_seconds(before), -1);
    }
}
