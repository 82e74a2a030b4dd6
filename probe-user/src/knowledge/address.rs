//! Address blocks (FAQ section 3): a CIDR type small enough to need no dependency.

use std::{fmt, net::IpAddr, str::FromStr};

use serde::{Serialize, Serializer};

/// An IPv4 or IPv6 network, e.g. `10.0.0.0/8` or `fe80::/10`. Host bits are always zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not ADDRESS/PREFIX (for example 10.0.0.0/8)")]
    Shape(String),
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    Address(String),
    #[error("prefix /{given} is longer than the {max} bits of the address")]
    Prefix { given: String, max: u8 },
    #[error("{given} has bits set after the prefix; the network is {network}")]
    HostBits { given: String, network: String },
}

impl Cidr {
    /// The network of `prefix` bits around `addr` (host bits cleared; a prefix longer than the
    /// address is the address itself): an interface's address and netmask give its network.
    pub fn around(addr: IpAddr, prefix: u8) -> Self {
        match addr {
            IpAddr::V4(a) => {
                let prefix = prefix.min(32);
                let bits = masked(u128::from(a.to_bits()), prefix, 32);
                Self {
                    network: IpAddr::V4(std::net::Ipv4Addr::from_bits(bits as u32)),
                    prefix,
                }
            }
            IpAddr::V6(a) => {
                let prefix = prefix.min(128);
                Self {
                    network: IpAddr::V6(std::net::Ipv6Addr::from_bits(masked(
                        a.to_bits(),
                        prefix,
                        128,
                    ))),
                    prefix,
                }
            }
        }
    }

    pub fn network(self) -> IpAddr {
        self.network
    }

    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `addr` lies in this network. An IPv4 address never lies in an IPv6 network and
    /// the other way round.
    pub fn contains(self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                masked(u128::from(a.to_bits()), self.prefix, 32) == u128::from(net.to_bits())
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                masked(a.to_bits(), self.prefix, 128) == net.to_bits()
            }
            _ => false,
        }
    }

    /// Whether all of `self` lies inside `outer` (192.168.1.0/24 inside 192.168.0.0/16).
    pub fn within(self, outer: Self) -> bool {
        self.prefix >= outer.prefix && outer.contains(self.network)
    }
}

/// `bits` with everything after the first `prefix` of `width` bits cleared.
fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    let host = u32::from(width - prefix);
    if host >= 128 {
        0
    } else {
        (bits >> host) << host
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| CidrError::Shape(s.to_owned()))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::Address(addr.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 =
            prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| CidrError::Prefix {
                    given: prefix.to_owned(),
                    max,
                })?;
        let cidr = Self::around(addr, prefix);
        if cidr.network != addr {
            return Err(CidrError::HostBits {
                given: s.to_owned(),
                network: cidr.to_string(),
            });
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_respects_prefix_and_family() {
        let ten: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(ten.contains("10.255.1.2".parse().unwrap()));
        assert!(!ten.contains("11.0.0.0".parse().unwrap()));
        assert!(!ten.contains("::a00:1".parse().unwrap()));
        let ll: Cidr = "fe80::/10".parse().unwrap();
        assert!(ll.contains("febf::1".parse().unwrap()));
        assert!(!ll.contains("fec0::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let one: Cidr = "255.255.255.255/32".parse().unwrap();
        assert!(one.contains("255.255.255.255".parse().unwrap()));
        assert!(!one.contains("255.255.255.254".parse().unwrap()));
    }

    #[test]
    fn around_clears_host_bits_and_within_compares_networks() {
        let home = Cidr::around("192.168.1.20".parse().unwrap(), 24);
        assert_eq!(home.to_string(), "192.168.1.0/24");
        assert_eq!(
            Cidr::around("2001:db8::1".parse().unwrap(), 64).to_string(),
            "2001:db8::/64"
        );
        assert_eq!(
            Cidr::around("198.18.0.1".parse().unwrap(), 40).to_string(),
            "198.18.0.1/32"
        );
        let private: Cidr = "192.168.0.0/16".parse().unwrap();
        assert!(home.within(private));
        assert!(home.within(home));
        assert!(!private.within(home));
        assert!(!home.within("10.0.0.0/8".parse().unwrap()));
        assert!(!home.within("fc00::/7".parse().unwrap()));
    }

    #[test]
    fn bad_cidrs_say_why() {
        assert_eq!(
            "10.1.0.0/8".parse::<Cidr>(),
            Err(CidrError::HostBits {
                given: "10.1.0.0/8".into(),
                network: "10.0.0.0/8".into()
            })
        );
        assert!(matches!(
            "10.0.0.0".parse::<Cidr>(),
            Err(CidrError::Shape(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::Prefix { max: 32, .. })
        ));
        assert!(matches!(
            "ten/8".parse::<Cidr>(),
            Err(CidrError::Address(_))
        ));
    }
}
