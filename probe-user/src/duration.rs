//! Durations on the command line: `250ms`, `1s`, `2m`, `1h`, `7d`.

use std::time::Duration;

/// Parses `NUMBER UNIT` with unit ms, s, m, h or d (a day of 24 hours).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("{text:?} is not a duration: write a whole number and a unit, like 500ms, 1s, 2m")
    })?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        "" => {
            return Err(format!(
                "{text:?} has no unit: add ms, s, m, h or d (like {n}s)"
            ));
        }
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit {unit:?}: use ms, s, m, h or d"
            ));
        }
    };
    if d.is_zero() {
        return Err("a duration must be longer than zero".to_owned());
    }
    Ok(d)
}

/// The shortest and longest `--interval`: the daemon reads every counter each interval, and an
/// interval of hours would hold back activity lines and overload reports for as long.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
pub const MAX_INTERVAL: Duration = Duration::from_hours(1);

/// Parses an `--interval`: a duration from [`MIN_INTERVAL`] to [`MAX_INTERVAL`].
pub fn interval(text: &str) -> Result<Duration, String> {
    let d = parse(text)?;
    if d < MIN_INTERVAL || d > MAX_INTERVAL {
        return Err(format!(
            "{text:?} is outside the interval the probe works with: give 10ms to 1h"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_bounded() {
        assert_eq!(interval("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(interval("1h"), Ok(Duration::from_hours(1)));
        for bad in ["9ms", "61m", "99999999999h"] {
            assert_eq!(
                interval(bad),
                Err(format!(
                    "{bad:?} is outside the interval the probe works with: give 10ms to 1h"
                ))
            );
        }
    }

    #[test]
    fn units_scale_the_number() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("2m"), Ok(Duration::from_mins(2)));
        assert_eq!(parse("1h"), Ok(Duration::from_hours(1)));
        assert_eq!(parse("7d"), Ok(Duration::from_hours(7 * 24)));
    }

    #[test]
    fn bad_durations_say_what_to_write() {
        assert!(parse("5").unwrap_err().contains("no unit"));
        assert!(parse("5w").unwrap_err().contains("unknown unit"));
        assert!(parse("fast").unwrap_err().contains("not a duration"));
        assert!(parse("0s").unwrap_err().contains("longer than zero"));
    }
}
