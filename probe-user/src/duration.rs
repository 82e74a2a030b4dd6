//! Durations on the command line: `250ms`, `1s`, `2m`, `1h`.

use std::time::Duration;

/// Parses `NUMBER UNIT` with unit ms, s, m or h.
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
        "" => {
            return Err(format!(
                "{text:?} has no unit: add ms, s, m or h (like {n}s)"
            ));
        }
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit {unit:?}: use ms, s, m or h"
            ));
        }
    };
    if d.is_zero() {
        return Err("a duration must be longer than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_the_number() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("2m"), Ok(Duration::from_mins(2)));
        assert_eq!(parse("1h"), Ok(Duration::from_hours(1)));
    }

    #[test]
    fn bad_durations_say_what_to_write() {
        assert!(parse("5").unwrap_err().contains("no unit"));
        assert!(parse("5d").unwrap_err().contains("unknown unit"));
        assert!(parse("fast").unwrap_err().contains("not a duration"));
        assert!(parse("0s").unwrap_err().contains("longer than zero"));
    }
}
