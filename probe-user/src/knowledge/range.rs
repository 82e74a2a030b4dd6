//! The three IANA port ranges (RFC 6335 §6).

use std::fmt;

/// Which IANA range a port falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeClass {
    /// 0–1023: assigned to standard services; binding them needs privilege on Unix.
    WellKnown,
    /// 1024–49151: registered with IANA for specific applications.
    Registered,
    /// 49152–65535: dynamic or private, for ephemeral client ports.
    Dynamic,
}

impl RangeClass {
    pub const fn of(port: u16) -> Self {
        match port {
            0..=1023 => Self::WellKnown,
            1024..=49151 => Self::Registered,
            _ => Self::Dynamic,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WellKnown => "well-known",
            Self::Registered => "registered",
            Self::Dynamic => "dynamic",
        }
    }
}

impl fmt::Display for RangeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RangeClass;

    #[test]
    fn boundaries_fall_in_the_right_class() {
        assert_eq!(RangeClass::of(0), RangeClass::WellKnown);
        assert_eq!(RangeClass::of(1023), RangeClass::WellKnown);
        assert_eq!(RangeClass::of(1024), RangeClass::Registered);
        assert_eq!(RangeClass::of(49151), RangeClass::Registered);
        assert_eq!(RangeClass::of(49152), RangeClass::Dynamic);
        assert_eq!(RangeClass::of(65535), RangeClass::Dynamic);
    }
}
