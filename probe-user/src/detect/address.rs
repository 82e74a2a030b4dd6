//! What the addresses and the IP header alone give away: `bogon_source` (a source that cannot
//! arrive legitimately), `land` (source equals destination), `source_routed` (LSRR/SSRR
//! options) and `directed_broadcast` (a destination ending in .255 or .0).
//!
//! The FAQ's section 3 on addresses is lost; these rest on the RFCs named in each explanation.
//!
//! What is ordinary on the networks the probe protects stays quiet (`detect/home.rs`): a
//! private source where home is private, a source inside a home network, a home host's
//! broadcast to its own network; and loopback to itself, which is all a capture on `lo` holds.

use std::net::{IpAddr, Ipv4Addr};

use probe_common::packet::ip_option;
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_list, addr_words, base, table::Lru,
};
use crate::{
    contact::{Contact, Proto},
    findings::{Evidence, Kind, evidence},
    knowledge::{Cidr, Level},
};

pub(crate) const BOGON: Kind = Kind::BogonSource;
pub(crate) const LAND: Kind = Kind::Land;
pub(crate) const SOURCE_ROUTED: Kind = Kind::SourceRouted;
pub(crate) const BROADCAST: Kind = Kind::DirectedBroadcast;

/// `bogon_source`'s explanation.
pub(crate) const BOGON_STORY: Story = Story {
    topic: "private-addresses",
    marks: &["src", "block", "name"],
};
/// `source_routed`'s explanation.
pub(crate) const ROUTED_STORY: Story = Story {
    topic: "source-routing",
    marks: &["src", "what", "dst", "opts"],
};
/// `directed_broadcast`'s explanation.
pub(crate) const BROADCAST_STORY: Story = Story {
    topic: "directed-broadcast",
    marks: &["src", "what", "hosts", "ending"],
};

/// The blocks `bogon_source` watches by default. 198.18.0.0/15 (benchmarking) is left out on
/// purpose: test labs use it.
const DEFAULT_BOGONS: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::1/128",
    "::ffff:0:0/96",
    "fc00::/7",
    "ff00::/8",
];

/// `bogon_source`: which source blocks cannot arrive on this interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BogonConfig {
    /// Turn off on an interface that faces a private network.
    pub enabled: bool,
    /// Source blocks to report, as CIDR strings.
    #[serde(deserialize_with = "cidrs")]
    pub blocks: Vec<Cidr>,
}

impl Default for BogonConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            blocks: DEFAULT_BOGONS
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
        }
    }
}

fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse::<Cidr>().map_err(serde::de::Error::custom))
        .collect()
}

/// `directed_broadcast`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BroadcastConfig {
    pub enabled: bool,
    /// UDP destination ports whose broadcasts are everyday LAN chatter (DHCP, NTP, NetBIOS,
    /// rwho) and are not reported.
    pub ignore_udp_ports: Vec<u16>,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ignore_udp_ports: vec![67, 68, 123, 137, 138, 513],
        }
    }
}

/// `bogon_source`, `land` and `source_routed`: per-source evidence.
pub(crate) struct Address {
    bogon: Lru<IpAddr, Acc>,
    land: Lru<IpAddr, Acc>,
    routed: Lru<IpAddr, Acc>,
}

/// `directed_broadcast`: evidence per (source, broadcast address), so each finding's `dst` is
/// the one address. A detector of its own because it runs after smurf and fraggle, which may
/// explain the broadcast.
pub(crate) struct Broadcast {
    broadcast: Lru<(IpAddr, IpAddr), Acc>,
}

impl Address {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            bogon: Lru::new(cap),
            land: Lru::new(cap),
            routed: Lru::new(cap),
        }
    }

    fn bogon(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let list = ctx.config.limits.max_list;
        let cfg = &ctx.config.bogon_source;
        if cfg.enabled
            && !is_dhcp_discover(c)
            // A LAN's own hosts: odd from the Internet, ordinary here.
            && !ctx.home.neighbour(c.src)
            && let Some(block) = cfg
                .blocks
                .iter()
                .filter(|b| b.contains(c.src))
                .max_by_key(|b| b.prefix())
        {
            let acc = self
                .bogon
                .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
            acc.see(c);
            let name = ctx
                .knowledge
                .address(c.src)
                .map_or_else(|| block.to_string(), |a| a.name);
            let block = block.to_string();
            let (explanation, faq) = BOGON_STORY.tell(ctx.knowledge, &[&v.src, &block, &name]);
            o.push(super::Draft {
                dst: acc.dst(),
                port: None,
                add: acc.take(),
                first_seen_ns: acc.first_ns,
                evidence: Some(Evidence::Bogon(evidence::Bogon {
                    block,
                    block_name: name,
                    hosts: addr_list(&acc.hosts, list),
                    ttl_min: acc.ttls.min,
                    ttl_max: acc.ttls.max,
                    faq,
                })),
                explanation,
                ..base(BOGON, Level::Suspicious, v)
            });
        }
    }

    fn land(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let list = ctx.config.limits.max_list;
        // Loopback to itself is all `lo` carries: a capture there, not a forged packet.
        if ctx.config.land.enabled && c.src == c.dst && !c.src.is_loopback() {
            let acc = self.land.touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
            acc.see(c);
            o.push(super::Draft {
                add: acc.take(),
                first_seen_ns: acc.first_ns,
                port: acc.port(),
                evidence: Some(Evidence::Land(evidence::Land {
                    proto: c.proto.as_str(),
                    src_port: c.src_port,
                    dst_port: c.dst_port,
                    ports: acc.ports.render(ctx.config.limits.max_port_runs),
                    ttl: c.ttl,
                    faq: "general".into(),
                })),
                explanation: format!(
                    "A packet claims to come from {a} and is addressed to {a}: the source is the \
                     destination. No real traffic looks like that. It is the old \"land\" attack: \
                     stacks of the late 1990s answered themselves in a loop and froze. Current \
                     systems shrug it off, but the packet is forged on purpose, so someone is \
                     testing for old weaknesses. Drop packets whose source is one of your own \
                     addresses at the border.",
                    a = v.src,
                ),
                ..base(LAND, Level::Hostile, v)
            });
        }
    }

    fn routed(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let list = ctx.config.limits.max_list;
        let routes = c.ip_options & (ip_option::LSRR | ip_option::SSRR);
        if ctx.config.source_routed.enabled && routes != 0 {
            let acc = self
                .routed
                .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
            acc.see(c);
            let mut options = Vec::new();
            if routes & ip_option::LSRR != 0 {
                options.push("LSRR");
                acc.tag("LSRR");
            }
            if routes & ip_option::SSRR != 0 {
                options.push("SSRR");
                acc.tag("SSRR");
            }
            let (explanation, faq) = ROUTED_STORY.tell(
                ctx.knowledge,
                &[&v.src, &v.what(), &v.dst, &options.join(" and ")],
            );
            o.push(super::Draft {
                dst: acc.dst(),
                port: acc.port(),
                add: acc.take(),
                first_seen_ns: acc.first_ns,
                evidence: Some(Evidence::SourceRouted(evidence::SourceRouted {
                    options,
                    packets_by_option: acc.tags.tally(),
                    hosts: addr_list(&acc.hosts, list),
                    faq,
                })),
                explanation,
                ..base(SOURCE_ROUTED, Level::Hostile, v)
            });
        }
    }
}

impl Detector for Address {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        let before = now.saturating_sub(case_ns);
        self.bogon.expire(before);
        self.land.expire(before);
        self.routed.expire(before);
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, _claims: &mut Claims, o: &mut Out<'_>) {
        self.bogon(v, ctx, o);
        self.land(v, ctx, o);
        self.routed(v, ctx, o);
    }
}

impl Broadcast {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            broadcast: Lru::new(cap),
        }
    }
}

impl Detector for Broadcast {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.broadcast.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.directed_broadcast;
        if !cfg.enabled
            || !v.broadcast
            || claims.broadcast_explained
            || (c.proto == Proto::Udp && cfg.ignore_udp_ports.contains(&c.dst_port))
            // A home host announcing itself to its own subnet (LAN discovery, sync, games).
            || ctx.home.same_network(c.src, c.dst)
        {
            return;
        }
        let list = ctx.config.limits.max_list;
        let acc = self
            .broadcast
            .touch(&(c.src, c.dst), c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        let ending = match c.dst {
            IpAddr::V4(a) if a.octets()[3] == 0 => ".0",
            _ => ".255",
        };
        let (explanation, faq) = BROADCAST_STORY.tell(
            ctx.knowledge,
            &[&v.src, &v.what(), &addr_words(&acc.hosts, list), ending],
        );
        o.push(super::Draft {
            subject: format!("{} {}", v.src, v.dst),
            port: acc.port(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::Broadcast(evidence::Broadcast {
                hosts: addr_list(&acc.hosts, list),
                proto: c.proto.as_str(),
                ports: acc.ports.render(ctx.config.limits.max_port_runs),
                ttl: c.ttl,
                faq,
            })),
            explanation,
            ..base(BROADCAST, Level::Suspicious, v)
        });
    }
}

/// A DHCP client asking for an address has none yet and must send from 0.0.0.0 (RFC 2131).
fn is_dhcp_discover(c: &Contact) -> bool {
    c.src == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        && c.proto == Proto::Udp
        && c.src_port == 68
        && c.dst_port == 67
}

#[cfg(test)]
mod tests {
    use probe_common::packet::tcp_flags::SYN;
    use serde_json::json;

    use super::*;
    use crate::{
        detect::{Config, testkit::*},
        findings::Status,
    };

    #[test]
    fn private_loopback_link_local_and_multicast_sources_are_bogons() {
        for (src, block) in [
            ("10.1.2.3", "10.0.0.0/8"),
            ("192.168.1.9", "192.168.0.0/16"),
            ("172.20.0.1", "172.16.0.0/12"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("169.254.7.7", "169.254.0.0/16"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("224.0.0.5", "224.0.0.0/4"),
            ("::1", "::1/128"),
            ("fd00::1", "fc00::/7"),
        ] {
            let dst = if src.contains(':') {
                "2001:db8::1"
            } else {
                "198.18.0.1"
            };
            let lines = run(&mut engine(), &[syn(src, dst, 80)]);
            let f = last_of(&lines, BOGON);
            assert_eq!(
                (f.level, f.src.as_deref(), f.count, f.status),
                (Level::Suspicious, Some(src), 1, Status::New),
                "{src}"
            );
            assert_eq!(f.evidence["block"], json!(block), "{src}");
        }
    }

    #[test]
    fn the_benchmarking_range_and_dhcp_discovers_are_not_bogons() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 80),
                syn("198.19.255.1", "198.18.0.1", 80),
                udp("0.0.0.0", 68, "255.255.255.255", 67),
                syn("203.0.113.9", "198.18.0.1", 80),
            ],
        );
        assert!(of(&lines, BOGON).is_empty(), "{lines:#?}");
    }

    #[test]
    fn bogons_can_be_turned_off_or_narrowed() {
        let mut cfg = Config::default();
        cfg.bogon_source.enabled = false;
        let lines = run(&mut engine_with(cfg), &[syn("10.0.0.1", "198.18.0.1", 80)]);
        assert!(of(&lines, BOGON).is_empty());
        let cfg = config(r#"{"bogon_source": {"blocks": ["127.0.0.0/8"]}}"#).unwrap();
        let lines = run(
            &mut engine_with(cfg),
            &[
                syn("10.0.0.1", "198.18.0.1", 80),
                syn("127.0.0.2", "198.18.0.1", 80),
            ],
        );
        assert_eq!(last_of(&lines, BOGON).src.as_deref(), Some("127.0.0.2"));
        assert!(config(r#"{"bogon_source": {"blocks": ["10.1.0.0/8"]}}"#).is_err());
    }

    #[test]
    fn repeated_bogon_packets_fold_into_one_finding() {
        let contacts: Vec<_> = (0..5u16)
            .map(|i| at(syn("10.9.9.9", "198.18.0.1", 1000 + i), u64::from(i)))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, BOGON);
        assert_eq!((f.count, f.status), (5, Status::Update));
        assert_eq!(
            of(&lines, BOGON).len(),
            2,
            "one new line and one flushed update"
        );
    }

    #[test]
    fn land_is_source_equal_to_destination() {
        let lines = run(
            &mut engine(),
            &[tcp("198.18.0.1", 139, "198.18.0.1", 139, SYN)],
        );
        let f = last_of(&lines, LAND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Hostile,
                Some("198.18.0.1"),
                Some("198.18.0.1"),
                Some(139),
                1
            )
        );
        assert_eq!(f.evidence["src_port"], json!(139));
        let lines = run(&mut engine(), &[syn("198.18.0.2", "198.18.0.1", 139)]);
        assert!(of(&lines, LAND).is_empty());
    }

    #[test]
    fn loose_and_strict_source_routes_are_reported() {
        let mut c = syn("198.18.0.66", "198.18.0.1", 22);
        c.ip_options = ip_option::LSRR | ip_option::END;
        let mut d = at(udp("198.18.0.66", 4000, "198.18.0.1", 53), 5);
        d.ip_options = ip_option::SSRR;
        let lines = run(&mut engine(), &[c, d]);
        let f = last_of(&lines, SOURCE_ROUTED);
        assert_eq!(
            (f.level, f.src.as_deref(), f.count),
            (Level::Hostile, Some("198.18.0.66"), 2)
        );
        assert_eq!(f.evidence["options"], json!(["SSRR"]));
        assert_eq!(
            f.evidence["packets_by_option"],
            json!({"LSRR": 1, "SSRR": 1})
        );
        // Record route and timestamps are not source routes.
        let mut e = syn("198.18.0.66", "198.18.0.1", 22);
        e.ip_options = ip_option::RECORD_ROUTE | ip_option::TIMESTAMP;
        assert!(of(&run(&mut engine(), &[e]), SOURCE_ROUTED).is_empty());
    }

    /// The source of each finding of `kind`, in the order they opened.
    fn sources(lines: &[crate::findings::Finding], kind: Kind) -> Vec<String> {
        of(lines, kind)
            .iter()
            .filter(|f| f.status == Status::New)
            .map(|f| f.src.clone().unwrap_or_default())
            .collect()
    }

    fn home(networks: &str) -> Config {
        config(&format!(r#"{{"home": {{"networks": [{networks}]}}}}"#)).unwrap()
    }

    #[test]
    fn private_sources_are_neighbours_where_home_is_private() {
        let contacts = [
            syn("192.168.1.20", "192.168.1.1", 8009),
            at(syn("10.8.0.5", "192.168.1.1", 8009), 1),
            at(syn("fd00::5", "fd00::1", 8009), 2),
            // Loopback is no LAN's: still a bogon.
            at(syn("127.0.0.2", "192.168.1.1", 8009), 3),
        ];
        let lines = run(&mut engine_with(home(r#""192.168.1.0/24""#)), &contacts);
        let f = last_of(&lines, BOGON);
        assert_eq!(f.src.as_deref(), Some("127.0.0.2"));
        assert_eq!(f.evidence["block"], json!("127.0.0.0/8"));

        // The same traffic where home faces the Internet: every private source is a bogon.
        let lines = run(&mut engine_with(home(r#""203.0.113.0/24""#)), &contacts);
        let every = ["192.168.1.20", "10.8.0.5", "fd00::5", "127.0.0.2"];
        assert_eq!(sources(&lines, BOGON), every);
        // And without home networks, as before.
        assert_eq!(sources(&run(&mut engine(), &contacts), BOGON), every);
    }

    #[test]
    fn a_source_inside_a_home_network_is_no_bogon() {
        // A capture on `lo`: home is 127.0.0.0/8, its sources are its own.
        let lines = run(
            &mut engine_with(home(r#""127.0.0.0/8", "::1/128""#)),
            &[
                udp("127.0.0.1", 40000, "127.0.0.53", 53),
                udp("::1", 40000, "::1", 53),
                syn("169.254.7.7", "127.0.0.1", 80),
            ],
        );
        assert_eq!(last_of(&lines, BOGON).src.as_deref(), Some("169.254.7.7"));
    }

    #[test]
    fn loopback_to_itself_is_not_land() {
        let lines = run(
            &mut engine(),
            &[
                tcp("127.0.0.1", 40000, "127.0.0.1", 40000, SYN),
                icmp("127.0.0.1", "127.0.0.1", 8, 0),
                tcp("::1", 40000, "::1", 40000, SYN),
            ],
        );
        assert!(of(&lines, LAND).is_empty(), "{lines:#?}");
        // Home or not, an address of the LAN sent to itself is forged.
        let lines = run(
            &mut engine_with(home(r#""192.168.1.0/24""#)),
            &[tcp("192.168.1.20", 139, "192.168.1.20", 139, SYN)],
        );
        assert_eq!(last_of(&lines, LAND).src.as_deref(), Some("192.168.1.20"));
    }

    #[test]
    fn a_home_hosts_broadcast_to_its_own_network_is_chatter() {
        let contacts = [
            // Spotify's LAN discovery, to the home network's broadcast address.
            udp("192.168.1.20", 57621, "192.168.1.255", 57621),
            at(syn("192.168.1.20", "192.168.1.0", 80), 1),
            // To another subnet's broadcast address, or from outside: still reported.
            at(udp("192.168.1.20", 57621, "192.168.2.255", 57621), 2),
            at(syn("198.18.0.66", "192.168.1.255", 80), 3),
        ];
        let lines = run(&mut engine_with(home(r#""192.168.1.0/24""#)), &contacts);
        let reported: Vec<_> = of(&lines, BROADCAST)
            .iter()
            .filter(|f| f.status == Status::New)
            .map(|f| (f.src.clone().unwrap(), f.dst.clone().unwrap()))
            .collect();
        assert_eq!(
            reported,
            [
                ("192.168.1.20".to_owned(), "192.168.2.255".to_owned()),
                ("198.18.0.66".to_owned(), "192.168.1.255".to_owned()),
            ]
        );
        // Without home networks all four are.
        assert_eq!(
            sources(&run(&mut engine(), &contacts), BROADCAST),
            [
                "192.168.1.20",
                "192.168.1.20",
                "192.168.1.20",
                "198.18.0.66"
            ]
        );
    }

    #[test]
    fn new_home_networks_apply_from_the_next_contact() {
        let mut e = engine();
        let before = e.contact(&syn("192.168.1.20", "192.168.1.1", 8009));
        assert_eq!(of(&before, BOGON).len(), 1);
        e.reconfigure(home(r#""192.168.1.0/24""#), knowledge());
        let after = e.contact(&at(syn("192.168.1.30", "192.168.1.1", 8009), 1));
        assert!(of(&after, BOGON).is_empty(), "{after:#?}");
    }

    #[test]
    fn broadcast_destinations_are_reported_unless_lan_chatter() {
        let lines = run(&mut engine(), &[syn("198.18.0.66", "198.18.1.255", 80)]);
        let f = last_of(&lines, BROADCAST);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("198.18.1.255"),
                Some(80)
            )
        );
        let lines = run(&mut engine(), &[syn("198.18.0.66", "198.18.1.0", 80)]);
        assert_eq!(
            last_of(&lines, BROADCAST).dst.as_deref(),
            Some("198.18.1.0")
        );
        let quiet = run(
            &mut engine(),
            &[
                udp("198.18.0.5", 138, "198.18.0.255", 138),
                udp("0.0.0.0", 68, "255.255.255.255", 67),
                syn("198.18.0.66", "198.18.1.254", 80),
                udp("198.18.0.5", 5353, "224.0.0.251", 5353),
            ],
        );
        assert!(of(&quiet, BROADCAST).is_empty(), "{quiet:#?}");
    }
}
