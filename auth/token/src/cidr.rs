//! CIDR blocks for `bound_cidrs`: a bare address is a single-host block, as in OpenBao's `ParseAddrs`.

use std::net::IpAddr;

use crate::TokenError;

/// A parsed CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address.
    pub(crate) fn parse(s: &str) -> Result<Self, TokenError> {
        let s = s.trim();
        let bad = || TokenError::invalid(format!("invalid CIDR address: {s}"));
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` lies inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `bits`-wide address.
fn masked(v: u128, bits: u32, prefix: u8) -> u128 {
    let drop = bits.saturating_sub(u32::from(prefix));
    v.checked_shr(drop).unwrap_or(0)
}

/// Validates a list of blocks, returning them normalised (trimmed, empties dropped).
pub(crate) fn validate(list: &[String]) -> Result<Vec<String>, TokenError> {
    let mut out = Vec::with_capacity(list.len());
    for c in list.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        Cidr::parse(c)?;
        out.push(c.to_owned());
    }
    Ok(out)
}

/// Whether `remote` is allowed by `bound` (an empty list allows anything; a bound token needs a known address).
pub(crate) fn allows(bound: &[String], remote: Option<IpAddr>) -> bool {
    if bound.is_empty() {
        return true;
    }
    let Some(ip) = remote else {
        return false;
    };
    bound
        .iter()
        .filter_map(|c| Cidr::parse(c).ok())
        .any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_hosts() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let host = Cidr::parse("127.0.0.1").unwrap();
        assert!(host.contains("127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allows_needs_an_address_when_bound() {
        let bound = vec!["192.168.0.0/24".to_owned()];
        assert!(allows(&[], None));
        assert!(!allows(&bound, None));
        assert!(allows(&bound, Some("192.168.0.7".parse().unwrap())));
        assert!(!allows(&bound, Some("192.168.1.7".parse().unwrap())));
    }
}
