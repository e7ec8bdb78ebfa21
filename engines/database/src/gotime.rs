//! Formatting a time with a Go reference layout (`2006-01-02T15:04:05Z07:00`), for the `timestamp` function
//! of username templates. Always UTC.

use time::OffsetDateTime;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Formats `t` (taken as UTC) with Go layout `layout`.
pub(crate) fn format(layout: &str, t: OffsetDateTime) -> String {
    let chars: Vec<char> = layout.chars().collect();
    let mut out = String::with_capacity(layout.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let rest = chars.get(i..).unwrap_or_default();
        let (len, text) = element(rest, t);
        if len == 0 {
            if let Some(c) = chars.get(i) {
                out.push(*c);
            }
            i += 1;
        } else {
            out.push_str(&text);
            i += len;
        }
    }
    out
}

fn starts(rest: &[char], pat: &str) -> bool {
    let mut it = rest.iter();
    pat.chars().all(|p| it.next() == Some(&p))
}

fn lower_at(rest: &[char], at: usize) -> bool {
    rest.get(at).is_some_and(|c| c.is_ascii_lowercase())
}

/// The layout element at the start of `rest`: how many chars it spans (0 = a literal char) and its text.
fn element(rest: &[char], t: OffsetDateTime) -> (usize, String) {
    let month = usize::from(u8::from(t.month()));
    let month_name = MONTHS
        .get(month.saturating_sub(1))
        .copied()
        .unwrap_or_default();
    let day_name = DAYS
        .get(usize::from(t.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or_default();
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let short = |s: &str| s.chars().take(3).collect::<String>();
    let candidates: &[(&str, bool)] = &[
        ("January", false),
        ("Jan", true),
        ("Monday", false),
        ("Mon", true),
        ("MST", false),
        ("2006", false),
        ("002", false),
        ("01", false),
        ("02", false),
        ("03", false),
        ("04", false),
        ("05", false),
        ("06", false),
        ("15", false),
        ("__2", false),
        ("_2", false),
        ("-07:00:00", false),
        ("-070000", false),
        ("-07:00", false),
        ("-0700", false),
        ("-07", false),
        ("Z07:00:00", false),
        ("Z070000", false),
        ("Z07:00", false),
        ("Z0700", false),
        ("Z07", false),
        ("PM", false),
        ("pm", false),
        ("1", false),
        ("2", false),
        ("3", false),
        ("4", false),
        ("5", false),
    ];
    for (pat, no_lower_after) in candidates {
        if !starts(rest, pat) {
            continue;
        }
        let n = pat.chars().count();
        // Go reads "Jan"/"Mon" as words only when no lowercase letter follows ("Janet" stays literal).
        if *no_lower_after && lower_at(rest, n) {
            continue;
        }
        let text = match *pat {
            "January" => month_name.to_owned(),
            "Jan" => short(month_name),
            "Monday" => day_name.to_owned(),
            "Mon" => short(day_name),
            "MST" => "UTC".to_owned(),
            "2006" => format!("{:04}", t.year()),
            "002" => format!("{:03}", t.ordinal()),
            "01" => format!("{month:02}"),
            "02" => format!("{:02}", t.day()),
            "03" => format!("{hour12:02}"),
            "04" => format!("{:02}", t.minute()),
            "05" => format!("{:02}", t.second()),
            "06" => format!("{:02}", t.year().rem_euclid(100)),
            "15" => format!("{:02}", t.hour()),
            "__2" => format!("{:>3}", t.ordinal()),
            "_2" => format!("{:>2}", t.day()),
            "-07:00:00" => "+00:00:00".to_owned(),
            "-070000" => "+000000".to_owned(),
            "-07:00" => "+00:00".to_owned(),
            "-0700" => "+0000".to_owned(),
            "-07" => "+00".to_owned(),
            p if p.starts_with('Z') => "Z".to_owned(),
            "PM" => if t.hour() >= 12 { "PM" } else { "AM" }.to_owned(),
            "pm" => if t.hour() >= 12 { "pm" } else { "am" }.to_owned(),
            "1" => month.to_string(),
            "2" => t.day().to_string(),
            "3" => hour12.to_string(),
            "4" => t.minute().to_string(),
            "5" => t.second().to_string(),
            _ => continue,
        };
        return (n, text);
    }
    fraction(rest, t)
}

/// `.000`/`,000` (fixed digits) or `.999` (trailing zeros trimmed) fractional seconds, when not followed by
/// another digit.
fn fraction(rest: &[char], t: OffsetDateTime) -> (usize, String) {
    let (Some(sep @ ('.' | ',')), Some(d @ ('0' | '9'))) = (rest.first(), rest.get(1)) else {
        return (0, String::new());
    };
    let digits = rest.iter().skip(1).take_while(|c| *c == d).count();
    if rest.get(1 + digits).is_some_and(char::is_ascii_digit) {
        return (0, String::new());
    }
    let nanos = format!("{:09}", t.nanosecond());
    let mut frac: String = nanos.chars().take(digits.min(9)).collect();
    if *d == '9' {
        frac = frac.trim_end_matches('0').to_owned();
        if frac.is_empty() {
            return (1 + digits, String::new());
        }
    }
    (1 + digits, format!("{sep}{frac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_234_567_890)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .replace_nanosecond(120_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn layouts() {
        assert_eq!(
            format("2006-01-02T15:04:05Z07:00", t()),
            "2009-02-13T23:31:30Z"
        );
        assert_eq!(format("2006_01_02T15_04_05Z", t()), "2009_02_13T23_31_30Z");
        assert_eq!(
            format("Mon Jan _2 3:04PM 06 MST", t()),
            "Fri Feb 13 11:31PM 09 UTC"
        );
        assert_eq!(format("Monday January 2", t()), "Friday February 13");
        assert_eq!(format("05.000 05.999 05,00", t()), "30.120 30.12 30,12");
        assert_eq!(format("-0700 Janet", t()), "+0000 Janet");
        assert_eq!(format("literal only", t()), "literal only");
    }
}
