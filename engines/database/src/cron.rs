//! Standard 5-field cron schedules (`minute hour day-of-month month day-of-week`, UTC) for static roles'
//! `rotation_schedule`: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, month and weekday names,
//! and `7` as Sunday. As in Vixie cron, when both day fields are restricted a day matching either one fires.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses a 5-field expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [min, hour, dom, mon, dow] = fields.as_slice() else {
            return Err(format!(
                "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        };
        let mut weekdays = field(dow, 0, 7, &DAY_NAMES, 0)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Self {
            minutes: field(min, 0, 59, &[], 0)?,
            hours: field(hour, 0, 23, &[], 0)?,
            days: field(dom, 1, 31, &[], 0)?,
            months: field(mon, 1, 12, &MONTH_NAMES, 1)?,
            weekdays,
            days_restricted: !is_star(dom),
            weekdays_restricted: !is_star(dow),
        })
    }

    /// The first time strictly after `after` (at a whole minute) that the schedule fires, searching up to five
    /// years ahead (a schedule such as `0 0 30 2 *` never fires).
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = after
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .ok()?
            .replace_second(0)
            .ok()?
            + time::Duration::minutes(1);
        let mut date = start.date();
        let limit = date.checked_add(time::Duration::days(5 * 366))?;
        let mut first_day = true;
        while date <= limit {
            if self.month_matches(date.month()) && self.day_matches(date) {
                let from = if first_day {
                    (start.hour(), start.minute())
                } else {
                    (0, 0)
                };
                if let Some(t) = self.time_on_or_after(from) {
                    let pdt = PrimitiveDateTime::new(date, t);
                    return Some(pdt.assume_utc());
                }
            }
            first_day = false;
            date = date.next_day()?;
        }
        None
    }

    fn month_matches(&self, m: Month) -> bool {
        bit(self.months, u8::from(m))
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = bit(self.days, d.day());
        let dow = bit(self.weekdays, weekday_num(d.weekday()));
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    fn time_on_or_after(&self, (h0, m0): (u8, u8)) -> Option<Time> {
        for h in h0..24 {
            if !bit(self.hours, h) {
                continue;
            }
            let from = if h == h0 { m0 } else { 0 };
            for m in from..60 {
                if bit(self.minutes, m) {
                    return Time::from_hms(h, m, 0).ok();
                }
            }
        }
        None
    }
}

fn bit(set: u64, n: u8) -> bool {
    set & (1u64 << n) != 0
}

fn weekday_num(w: Weekday) -> u8 {
    w.number_days_from_sunday()
}

fn is_star(f: &str) -> bool {
    f == "*" || f == "?"
}

/// One field as a bit set over `lo..=hi`; `names` are accepted for values starting at `name_base`.
fn field(f: &str, lo: u8, hi: u8, names: &[&str], name_base: u8) -> Result<u64, String> {
    let mut set = 0u64;
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("invalid step {s:?} in {f:?}"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if is_star(range) {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, name_base)?, value(b, names, name_base)?)
        } else {
            let v = value(range, names, name_base)?;
            // `5/15` means from 5 to the end, every 15.
            (v, if part.contains('/') { hi } else { v })
        };
        if a < lo || b > hi || a > b {
            return Err(format!("value out of range in {f:?} (allowed {lo}-{hi})"));
        }
        let mut v = a;
        while v <= b {
            set |= 1u64 << v;
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
    }
    Ok(set)
}

fn value(s: &str, names: &[&str], base: u8) -> Result<u8, String> {
    if let Ok(v) = s.parse::<u8>() {
        return Ok(v);
    }
    let upper = s.to_ascii_uppercase();
    names
        .iter()
        .position(|n| *n == upper)
        .and_then(|i| u8::try_from(i).ok())
        .map(|i| i + base)
        .ok_or_else(|| format!("invalid value {s:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    fn next(expr: &str, after: OffsetDateTime) -> OffsetDateTime {
        Schedule::parse(expr).unwrap().next_after(after).unwrap()
    }

    #[test]
    fn next_times() {
        let t = datetime!(2024-02-28 10:17:30 UTC);
        assert_eq!(next("* * * * *", t), datetime!(2024-02-28 10:18 UTC));
        assert_eq!(next("*/15 * * * *", t), datetime!(2024-02-28 10:30 UTC));
        assert_eq!(next("0 0 * * *", t), datetime!(2024-02-29 00:00 UTC));
        assert_eq!(next("0 0 1 * *", t), datetime!(2024-03-01 00:00 UTC));
        assert_eq!(next("30 9 * * MON-FRI", t), datetime!(2024-02-29 09:30 UTC));
        assert_eq!(next("0 12 * * sun", t), datetime!(2024-03-03 12:00 UTC));
        assert_eq!(next("0 12 * * 7", t), datetime!(2024-03-03 12:00 UTC));
        assert_eq!(next("0 0 29 2 *", t), datetime!(2024-02-29 00:00 UTC));
        assert_eq!(
            next("0 0 29 feb *", datetime!(2024-03-01 00:00 UTC)),
            datetime!(2028-02-29 00:00 UTC)
        );
        assert_eq!(next("5/20 1,3 * * *", t), datetime!(2024-02-29 01:05 UTC));
        // Both day fields restricted: either matches (the 1st, or a Friday).
        assert_eq!(next("0 0 1 * 5", t), datetime!(2024-03-01 00:00 UTC));
        assert_eq!(next("0 0 15 * 3", t), datetime!(2024-03-06 00:00 UTC));
        assert!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next_after(t)
                .is_none()
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
            "* * * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
