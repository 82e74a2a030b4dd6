//! What an ICMP or ICMPv6 message means (FAQ section 2). Always an answer: the entry for the
//! exact code, else the entry for the whole type, else an honest "not described".

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    Knowledge,
    data::{IcmpEntry, Info},
    types::{Basis, Category, IcmpFamily, Level},
};

/// What an ICMP message means. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IcmpMatch {
    pub family: IcmpFamily,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// The code asked about; `None` when the whole type was asked about.
    pub code: Option<u8>,
    /// Whether an entry describes exactly what was asked (false: the code fell back to its type,
    /// or the type is unknown).
    pub exact: bool,
    pub name: String,
    pub meaning: String,
    pub explanation: String,
    pub level: Level,
    pub category: Category,
    pub faq: Option<String>,
    pub basis: Basis,
    pub lost: Option<String>,
}

fn find(list: &[IcmpEntry], family: IcmpFamily, ty: u8, code: Option<u8>) -> Option<&IcmpEntry> {
    list.iter()
        .find(|e| e.family == family && e.icmp_type == ty && e.code == code)
}

impl Knowledge {
    /// The table entry for exactly this type and code (`None`: the whole type).
    pub fn icmp_entry(&self, family: IcmpFamily, ty: u8, code: Option<u8>) -> Option<&IcmpEntry> {
        find(&self.added.icmp, family, ty, code)
            .or_else(|| find(&self.tables.icmp, family, ty, code))
            .or_else(|| find(&self.modern.icmp, family, ty, code))
    }

    /// What an ICMP message of this type and code means.
    pub fn icmp(&self, family: IcmpFamily, ty: u8, code: u8) -> IcmpMatch {
        self.icmp_lookup(family, ty, Some(code))
    }

    /// What an ICMP type means as a whole.
    pub fn icmp_type(&self, family: IcmpFamily, ty: u8) -> IcmpMatch {
        self.icmp_lookup(family, ty, None)
    }

    fn icmp_lookup(&self, family: IcmpFamily, ty: u8, code: Option<u8>) -> IcmpMatch {
        let answer = |info: &Info, exact: bool| IcmpMatch {
            family,
            icmp_type: ty,
            code,
            exact,
            name: info.name.clone(),
            meaning: info.meaning.clone(),
            explanation: info.explanation.clone(),
            level: info.level,
            category: info.category,
            faq: info.faq.clone(),
            basis: info.basis,
            lost: info.lost.clone(),
        };
        if let Some(e) = self.icmp_entry(family, ty, code) {
            return answer(&e.info, true);
        }
        if let (Some(c), Some(e)) = (code, self.icmp_entry(family, ty, None)) {
            let mut m = answer(&e.info, false);
            let _ = write!(
                m.explanation,
                "\n\nCode {c} has no entry of its own; this is what type {ty} means as a whole."
            );
            return m;
        }
        let (label, registry) = match family {
            IcmpFamily::V4 => ("ICMP", "ICMP"),
            IcmpFamily::V6 => ("ICMPv6", "ICMPv6"),
        };
        IcmpMatch {
            family,
            icmp_type: ty,
            code,
            exact: false,
            name: format!("{label} type {ty}"),
            meaning: format!("An {label} type the probe has no description for."),
            explanation: format!(
                "Neither the FAQ nor the probe's tables describe {label} type {ty}. IANA's \
                 {registry} parameters registry lists what each type is assigned to; an \
                 unassigned or obsolete type on the wire is most likely crafted, for example by \
                 a scanner probing how the stack reacts."
            ),
            level: Level::Notable,
            category: Category::Unknown,
            faq: None,
            basis: Basis::Unknown,
            lost: None,
        }
    }
}
