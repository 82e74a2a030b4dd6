//! The networks the probe protects, what every IDS calls its home networks (Snort's HOME_NET,
//! Zeek's local nets): traffic that is odd arriving from the Internet is ordinary inside them.
//! A private source is a neighbour when the home network is private itself; a host's broadcast
//! to its own subnet is LAN chatter.
//!
//! Where they come from is the caller's business: `--home-net`, the settings file's `[home]`,
//! the watched interface's own networks (the daemon) or a guess from the capture (a replay,
//! [`Guess`]). The detectors only read the [`Home`] the engine builds from [`HomeConfig`].

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use serde::{Deserialize, Deserializer, Serialize};

use crate::knowledge::Cidr;

/// `[home]` in the detector settings file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HomeConfig {
    /// The home networks as CIDR strings. Absent: the daemon takes the interface's own
    /// networks and a replay infers them; `[]`: none, every rule as on an Internet-facing
    /// link. `--home-net` overrides it.
    #[serde(deserialize_with = "some_cidrs")]
    pub networks: Option<Vec<Cidr>>,
}

fn some_cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Cidr>>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse::<Cidr>().map_err(serde::de::Error::custom))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Blocks that no Internet host can send from but every LAN uses: RFC 1918 and IPv6 unique
/// local addresses (RFC 4193).
fn private_blocks() -> [Cidr; 4] {
    [
        Cidr::around(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
        Cidr::around(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
        Cidr::around(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
        Cidr::around(IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
    ]
}

/// Whether `addr` is a private (RFC 1918) or unique local (fc00::/7) address.
pub fn is_private(addr: IpAddr) -> bool {
    private_blocks().iter().any(|b| b.contains(addr))
}

/// Whether the whole of `net` is private.
fn is_private_net(net: Cidr) -> bool {
    private_blocks().iter().any(|b| net.within(*b))
}

/// IPv6 link-local (fe80::/10): on every link, so it tells nothing about which network is home.
fn is_link_local_v6(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
}

/// The home networks as the detectors ask about them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Home {
    networks: Vec<Cidr>,
    /// Some home network is private: the probe watches a LAN, where private sources are
    /// neighbours.
    private: bool,
}

impl Home {
    pub(crate) fn new(networks: &[Cidr]) -> Self {
        Self {
            networks: networks.to_vec(),
            private: networks.iter().any(|n| is_private_net(*n)),
        }
    }

    /// Whether `addr` lies in a home network.
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(addr))
    }

    /// A source that belongs here: inside a home network, or private on a private LAN.
    pub(crate) fn neighbour(&self, src: IpAddr) -> bool {
        self.contains(src) || (self.private && is_private(src))
    }

    /// Whether `a` and `b` lie in one home network (a host and its own subnet's broadcast).
    pub(crate) fn same_network(&self, a: IpAddr, b: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(a) && n.contains(b))
    }
}

/// An interface's addresses and prefix lengths as home networks: each address's network,
/// once, IPv4 first, without IPv6 link-local.
pub fn networks_of(addresses: &[(IpAddr, u8)]) -> Vec<Cidr> {
    let mut out: Vec<Cidr> = Vec::new();
    for &(addr, prefix) in addresses {
        let net = Cidr::around(addr, prefix);
        if !is_link_local_v6(addr) && !out.contains(&net) {
            out.push(net);
        }
    }
    out.sort_by_key(|n| (n.network().is_ipv6(), n.network(), n.prefix()));
    out
}

/// Which share of a family's first contacts a network must receive to be guessed home: one
/// in four. At most four networks per family can reach it, so a guess stays short.
const GUESS_SHARE: u64 = 4;

/// A replay's guess of the home networks from the first contacts it reads: the /24 (IPv4)
/// or /64 (IPv6) networks that receive at least a quarter of their family's first contacts
/// (loopback counts as 127.0.0.0/8 and ::1/128).
/// A capture is taken where the protected hosts are, and they are where contacts go: replies
/// to their own traffic, connections to their services, scans of them. Multicast, the limited
/// broadcast, the unspecified address and IPv6 link-local are not counted.
#[derive(Debug, Default)]
pub struct Guess {
    /// First contacts per destination network.
    counts: HashMap<Cidr, u64>,
    /// First contacts counted, IPv4 then IPv6.
    totals: [u64; 2],
}

impl Guess {
    /// Counts one first contact's destination.
    pub fn see(&mut self, dst: IpAddr) {
        if dst.is_multicast()
            || dst.is_unspecified()
            || dst == IpAddr::V4(Ipv4Addr::BROADCAST)
            || is_link_local_v6(dst)
        {
            return;
        }
        // Loopback is one network whatever the address: as `lo` itself has it.
        let (family, prefix) = match dst {
            IpAddr::V4(a) if a.is_loopback() => (0, 8),
            IpAddr::V4(_) => (0, 24),
            IpAddr::V6(a) if a.is_loopback() => (1, 128),
            IpAddr::V6(_) => (1, 64),
        };
        self.totals[family] += 1;
        *self.counts.entry(Cidr::around(dst, prefix)).or_default() += 1;
    }

    /// The networks guessed home: IPv4 first, the busiest first within a family.
    pub fn networks(&self) -> Vec<Cidr> {
        let mut home: Vec<(Cidr, u64)> = self
            .counts
            .iter()
            .filter(|&(net, &n)| {
                let total = self.totals[usize::from(net.network().is_ipv6())];
                n.saturating_mul(GUESS_SHARE) >= total
            })
            .map(|(net, n)| (*net, *n))
            .collect();
        home.sort_by_key(|&(net, n)| {
            (net.network().is_ipv6(), std::cmp::Reverse(n), net.network())
        });
        home.into_iter().map(|(net, _)| net).collect()
    }
}

/// Home networks for people: `192.168.1.0/24, fd00::/64`, or `none`.
pub fn describe(networks: &[Cidr]) -> String {
    if networks.is_empty() {
        return "none".to_owned();
    }
    networks
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testkit::ip;

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn private_means_rfc_1918_and_unique_local() {
        for a in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.20",
            "fd00::1",
            "fc00::1",
        ] {
            assert!(is_private(ip(a)), "{a}");
        }
        for a in [
            "172.32.0.1",
            "198.18.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "fe80::1",
            "2001:db8::1",
        ] {
            assert!(!is_private(ip(a)), "{a}");
        }
    }

    #[test]
    fn a_private_home_makes_every_private_source_a_neighbour() {
        let lan = Home::new(&nets(&["192.168.1.0/24"]));
        assert!(lan.neighbour(ip("192.168.1.20")));
        // Another private network behind the LAN's router (a VPN, a second subnet).
        assert!(lan.neighbour(ip("10.8.0.5")));
        assert!(lan.neighbour(ip("fd12::5")));
        assert!(!lan.neighbour(ip("127.0.0.1")));
        assert!(!lan.neighbour(ip("203.0.113.9")));

        let internet = Home::new(&nets(&["203.0.113.0/24", "2001:db8::/64"]));
        assert!(!internet.neighbour(ip("192.168.1.20")));
        assert!(internet.neighbour(ip("203.0.113.7")));
        // A home wider than a private block is not private itself.
        assert!(!Home::new(&nets(&["0.0.0.0/0"])).private);
        assert!(!Home::default().neighbour(ip("10.0.0.1")));
    }

    #[test]
    fn same_network_needs_both_addresses_in_one_home_network() {
        let home = Home::new(&nets(&["192.168.1.0/24", "198.18.0.0/24"]));
        assert!(home.same_network(ip("192.168.1.20"), ip("192.168.1.255")));
        assert!(!home.same_network(ip("198.18.0.11"), ip("192.168.1.255")));
        assert!(!home.same_network(ip("192.168.2.20"), ip("192.168.2.255")));
    }

    #[test]
    fn interface_addresses_give_their_networks_once_without_link_local() {
        let found = networks_of(&[
            (ip("fe80::1"), 64),
            (ip("2001:db8::1"), 64),
            (ip("198.18.0.1"), 24),
            (ip("198.18.0.9"), 24),
            (ip("127.0.0.1"), 8),
        ]);
        assert_eq!(
            describe(&found),
            "127.0.0.0/8, 198.18.0.0/24, 2001:db8::/64"
        );
        assert_eq!(describe(&[]), "none");
    }

    #[test]
    fn the_guess_is_each_network_with_a_quarter_of_its_familys_contacts() {
        let mut guess = Guess::default();
        // IPv4: 12 counted contacts. 192.168.1.0/24 gets 6 (replies, DNS, a broadcast),
        // 198.51.100.0/24 gets 3 (exactly a quarter), three other networks one each.
        for dst in [
            "192.168.1.20",
            "192.168.1.20",
            "192.168.1.1",
            "192.168.1.1",
            "192.168.1.30",
            "192.168.1.255",
            "198.51.100.7",
            "198.51.100.8",
            "198.51.100.7",
            "203.0.113.1",
            "203.0.113.200",
            "192.0.2.1",
            // Not counted: multicast, the limited broadcast, the unspecified address.
            "224.0.0.251",
            "239.255.255.250",
            "255.255.255.255",
            "0.0.0.0",
        ] {
            guess.see(ip(dst));
        }
        // IPv6: 5 counted. 2001:db8:1:2::/64 gets 4; 2001:db8:9::/64 gets 1 (under a quarter).
        for dst in [
            "2001:db8:1:2::20",
            "2001:db8:1:2::1",
            "2001:db8:1:2::20",
            "2001:db8:1:2:aaaa::1",
            "2001:db8:9::1",
            "fe80::1",
            "ff02::fb",
        ] {
            guess.see(ip(dst));
        }
        assert_eq!(
            guess.networks(),
            nets(&["192.168.1.0/24", "198.51.100.0/24", "2001:db8:1:2::/64"])
        );
        assert_eq!(Guess::default().networks(), Vec::<Cidr>::new());
    }

    #[test]
    fn a_loopback_capture_guesses_loopback_as_lo_has_it() {
        let mut guess = Guess::default();
        for dst in ["127.0.0.1", "127.0.0.1", "127.0.0.53", "::1"] {
            guess.see(ip(dst));
        }
        assert_eq!(guess.networks(), nets(&["127.0.0.0/8", "::1/128"]));
    }

    #[test]
    fn the_settings_file_may_name_home_networks() {
        let cfg: crate::detect::Config =
            toml::from_str("[home]\nnetworks = [\"192.168.1.0/24\", \"fd00::/8\"]\n").unwrap();
        assert_eq!(
            cfg.home.networks,
            Some(nets(&["192.168.1.0/24", "fd00::/8"]))
        );
        let cfg: crate::detect::Config = toml::from_str("[home]\nnetworks = []\n").unwrap();
        assert_eq!(cfg.home.networks, Some(Vec::new()));
        assert_eq!(crate::detect::Config::default().home.networks, None);
        let bad =
            toml::from_str::<crate::detect::Config>("[home]\nnetworks = [\"192.168.1.9/24\"]\n")
                .unwrap_err();
        assert!(
            bad.message().contains("the network is 192.168.1.0/24"),
            "{bad}"
        );
    }
}
