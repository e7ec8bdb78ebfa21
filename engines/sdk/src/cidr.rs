//! CIDR blocks for `token_bound_cidrs`: parsing, canonical printing and membership.

use std::fmt;
use std::net::IpAddr;

/// An address block; a bare address is a single-host block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("invalid address or CIDR block: {s:?}");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = max_prefix(addr);
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` falls inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A single host prints as the bare address, as OpenBao does.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// Parses a list of blocks into their canonical strings.
pub fn canonical_list(items: &[String]) -> Result<Vec<String>, String> {
    items
        .iter()
        .map(|s| Cidr::parse(s).map(|c| c.to_string()))
        .collect()
}

/// Whether `ip` is inside any of the stored (already validated) blocks.
pub fn allowed(blocks: &[String], ip: IpAddr) -> bool {
    blocks
        .iter()
        .filter_map(|b| Cidr::parse(b).ok())
        .any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_print_contains() {
        let c = Cidr::parse("128.252.0.0/16").unwrap();
        assert_eq!(c.to_string(), "128.252.0.0/16");
        assert!(c.contains(ip("128.252.9.9")));
        assert!(!c.contains(ip("128.253.0.1")));
        assert!(c.contains(ip("::ffff:128.252.1.1")));
        assert_eq!(
            Cidr::parse("127.0.0.1/32").unwrap().to_string(),
            "127.0.0.1"
        );
        assert_eq!(Cidr::parse(" 10.1.2.3 ").unwrap().to_string(), "10.1.2.3");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
        assert!(allowed(&["10.0.0.0/8".into()], ip("10.9.9.9")));
        assert!(!allowed(&["10.0.0.0/8".into()], ip("11.0.0.1")));
    }
}
