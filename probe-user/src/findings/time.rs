//! Times as RFC 3339 UTC strings with milliseconds, formatted and read by the probe itself.

pub(crate) const NS_PER_SEC: u64 = 1_000_000_000;
pub(crate) const NS_PER_MS: u64 = 1_000_000;

/// RFC 3339 UTC with milliseconds: `1970-01-01T00:00:00.000Z`.
pub fn format_rfc3339_ms(ns: u64) -> String {
    let secs = ns / NS_PER_SEC;
    let ms = (ns % NS_PER_SEC) / NS_PER_MS;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `Mmm dd hh:mm:ss` in UTC, the timestamp of a classic (RFC 3164) syslog line: the day of
/// the month padded with a space.
pub fn format_syslog(ns: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ns / NS_PER_SEC;
    let rem = secs % 86_400;
    let (_, m, d) = civil_from_days(secs / 86_400);
    let month = MONTHS[(m as usize).saturating_sub(1) % 12];
    format!(
        "{month} {d:>2} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only; `t`/`z` accepted) back to nanoseconds.
/// Digits of the fraction beyond nanoseconds are ignored.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = bytes.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u64, |acc, digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    };
    let sep = |at: usize, want: &[u8]| bytes.get(at).is_some_and(|c| want.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut frac_ns = 0u64;
    if sep(pos, b".") {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let digits = bytes.get(start..pos)?;
        if digits.is_empty() {
            return None;
        }
        let mut scale = 100_000_000u64;
        for digit in digits.iter().take(9) {
            frac_ns += u64::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    if !(sep(pos, b"Zz") && pos + 1 == bytes.len()) {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    secs.checked_mul(NS_PER_SEC)?.checked_add(frac_ns)
}

fn is_leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) of a count of days since 1970-01-01, counted in 400-year eras of
/// 146,097 days from 0000-03-01 so that leap days fall at the end of each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil_from_days`], for dates from 1970 on.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NS_PER_SEC;
    /// 2024-05-01T12:00:00Z.
    const T0: u64 = 1_714_564_800 * S;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_ms(T0 + 3 * S + 250 * NS_PER_MS + 999),
            "2024-05-01T12:00:03.250Z"
        );
        // A leap day and the last millisecond of a year.
        assert_eq!(
            format_rfc3339_ms(951_782_400 * S),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_rfc3339_ms(1_704_067_199 * S + 999 * NS_PER_MS),
            "2023-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn times_parse_back() {
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:03.250Z"),
            Some(T0 + 3 * S + 250 * NS_PER_MS)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400 * S));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000000001Z"), Some(1));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:03.250",
            "2024-05-01T12:00:03.Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2024-05-01T12:00:03+02:00",
            "२०२४-05-01T12:00:03Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        for day in [0u64, 59, 60, 365, 10_957, 19_844, 200_000] {
            let ns = day * 86_400 * S;
            assert_eq!(parse_rfc3339(&format_rfc3339_ms(ns)), Some(ns), "day {day}");
        }
    }
}
