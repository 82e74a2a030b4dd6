//! One check for "this finding has these fields": `expect(f).level("suspicious").src(ATTACKER_V4)
//! .port(Some(22)).count(3);` compares each named field exactly, and a mismatch panics naming the
//! field, the value expected and the value found, with the whole finding beside them.

use std::fmt::{Debug, Display};

use crate::findings::Finding;

/// The checks of one finding; see [`expect`].
pub struct Expect<'a> {
    finding: &'a Finding,
    /// Shown with a mismatch, after the finding (every finding of the run, say).
    context: String,
}

/// Starts the checks of `finding`. Each method checks one field at once and returns the checks
/// for the next one; a field not named is not checked.
pub fn expect(finding: &Finding) -> Expect<'_> {
    Expect {
        finding,
        context: String::new(),
    }
}

impl Expect<'_> {
    /// Adds `context` to the message of a later mismatch.
    #[must_use]
    pub fn because(self, context: impl Display) -> Self {
        Self {
            context: context.to_string(),
            ..self
        }
    }

    pub fn kind(&self, kind: &str) -> &Self {
        self.field("kind", &self.finding.kind.as_str(), &kind)
    }

    pub fn level(&self, level: &str) -> &Self {
        self.field("level", &self.finding.level.as_str(), &level)
    }

    /// The source address, or `None` for a finding without one.
    pub fn src<'s>(&self, src: impl Into<Option<&'s str>>) -> &Self {
        self.field("src", &self.finding.src.as_deref(), &src.into())
    }

    /// The destination address, or `None`.
    pub fn dst<'s>(&self, dst: impl Into<Option<&'s str>>) -> &Self {
        self.field("dst", &self.finding.dst.as_deref(), &dst.into())
    }

    /// The transport protocol (`tcp`, `udp`, `icmp`, `icmpv6`), or `None`.
    pub fn proto<'s>(&self, proto: impl Into<Option<&'s str>>) -> &Self {
        self.field("proto", &self.finding.proto.as_deref(), &proto.into())
    }

    pub fn port(&self, port: Option<u16>) -> &Self {
        self.field("port", &self.finding.port, &port)
    }

    pub fn count(&self, count: u64) -> &Self {
        self.field("count", &self.finding.count, &count)
    }

    fn field<T: PartialEq + Debug>(&self, name: &str, found: &T, expected: &T) -> &Self {
        assert!(
            found == expected,
            "the finding's {name} is {found:?}, expected {expected:?}\nthe finding: {:#?}\n{}",
            self.finding,
            self.context
        );
        self
    }
}
