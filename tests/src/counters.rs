//! Readers for the JSON that `probe query ... --json` prints, so assertions read simply.
//!
//! Every reader panics with the whole answer when a field is missing or has the wrong type: a
//! changed schema must fail loudly, never read as zero.

use serde_json::Value;

/// `probe query stats --json`, field for field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub other_ether_type: u64,
    pub vlan_tagged: u64,
    pub fragments: u64,
    pub tiny_fragments: u64,
    pub long_header_chains: u64,
    pub malformed: u64,
    /// TCP segments counted on ports.
    pub tcp: u64,
    /// UDP datagrams counted on ports.
    pub udp: u64,
    /// ICMP messages.
    pub icmp: u64,
    /// ICMPv6 messages.
    pub icmpv6: u64,
}

impl Stats {
    /// Reads the answer to `stats --json`.
    pub fn from_json(v: &Value) -> Self {
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("stats has no integer {name:?}: {v}"))
        };
        Self {
            packets: field("packets"),
            bytes: field("bytes"),
            ipv4: field("ipv4"),
            ipv6: field("ipv6"),
            other_ether_type: field("other_ether_type"),
            vlan_tagged: field("vlan_tagged"),
            fragments: field("fragments"),
            tiny_fragments: field("tiny_fragments"),
            long_header_chains: field("long_header_chains"),
            malformed: field("malformed"),
            tcp: field("tcp"),
            udp: field("udp"),
            icmp: field("icmp"),
            icmpv6: field("icmpv6"),
        }
    }

    /// Every frame is counted exactly once as IPv4, IPv6, another EtherType, or malformed.
    pub fn assert_consistent(&self) {
        assert_eq!(
            self.packets,
            self.ipv4 + self.ipv6 + self.other_ether_type + self.malformed,
            "packets must equal ipv4 + ipv6 + other_ether_type + malformed: {self:?}"
        );
    }
}

/// One row of `ports --json`; all zero when the port was not seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRow {
    pub packets: u64,
    pub syn: u64,
    /// `well-known`, `registered` or `dynamic`; empty when the port was not seen.
    pub class: String,
}

fn rows(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {v}"))
}

fn uint(row: &Value, name: &str) -> u64 {
    row.get(name)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("row has no integer {name:?}: {row}"))
}

fn text<'a>(row: &'a Value, name: &str) -> &'a str {
    row.get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("row has no string {name:?}: {row}"))
}

/// The row of `port`/`proto` in a `ports --json` answer, or zeros when it is absent.
pub fn port_row(v: &Value, port: u16, proto: &str) -> PortRow {
    let mut found = rows(v)
        .iter()
        .filter(|r| uint(r, "port") == u64::from(port) && text(r, "proto") == proto);
    let Some(row) = found.next() else {
        return PortRow::default();
    };
    assert!(found.next().is_none(), "{proto}/{port} appears twice: {v}");
    PortRow {
        packets: uint(row, "packets"),
        syn: uint(row, "syn"),
        class: text(row, "class").to_owned(),
    }
}

/// Every row of a `ports --json` answer as `(proto, port, packets)`, sorted by protocol and
/// port, so a test can assert the complete set: a stray count fails as surely as a missing one.
pub fn port_list(v: &Value) -> Vec<(&'static str, u16, u64)> {
    let mut list: Vec<_> = rows(v)
        .iter()
        .map(|r| {
            let proto = match text(r, "proto") {
                "tcp" => "tcp",
                "udp" => "udp",
                other => panic!("unknown proto {other:?} in {r}"),
            };
            let port =
                u16::try_from(uint(r, "port")).unwrap_or_else(|_| panic!("port out of range: {r}"));
            (proto, port, uint(r, "packets"))
        })
        .collect();
    list.sort_unstable();
    list
}

/// Every row of an `icmp --json` answer as `(family, type, code, packets)`, sorted.
pub fn icmp_list(v: &Value) -> Vec<(&'static str, u8, u8, u64)> {
    let mut list: Vec<_> = rows(v)
        .iter()
        .map(|r| {
            let family = match text(r, "family") {
                "icmp" => "icmp",
                "icmpv6" => "icmpv6",
                other => panic!("unknown family {other:?} in {r}"),
            };
            let byte = |name| {
                u8::try_from(uint(r, name)).unwrap_or_else(|_| panic!("{name} out of range: {r}"))
            };
            (family, byte("type"), byte("code"), uint(r, "packets"))
        })
        .collect();
    list.sort_unstable();
    list
}

/// Every row of a `flags --json` answer as `(bits, packets)`, sorted by bits. Also checks that
/// each row's `flags` text names its bits.
pub fn flag_list(v: &Value) -> Vec<(u8, u64)> {
    let mut list: Vec<_> = rows(v)
        .iter()
        .map(|r| {
            let bits =
                u8::try_from(uint(r, "bits")).unwrap_or_else(|_| panic!("bits out of range: {r}"));
            assert_eq!(
                text(r, "flags"),
                flag_names(bits),
                "flag names of {bits:#04x} in {r}"
            );
            (bits, uint(r, "packets"))
        })
        .collect();
    list.sort_unstable();
    list
}

/// Names of the TCP flag bits in `bits`, in header order (RFC 9293 §3.1; ECE and CWR from
/// RFC 3168), joined by commas; `NULL` for none. Written here independently of the daemon so
/// the test checks its naming rather than repeating it.
pub fn flag_names(bits: u8) -> String {
    const NAMES: [(u8, &str); 8] = [
        (0x01, "FIN"),
        (0x02, "SYN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
        (0x40, "ECE"),
        (0x80, "CWR"),
    ];
    if bits == 0 {
        return "NULL".to_owned();
    }
    NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(",")
}
