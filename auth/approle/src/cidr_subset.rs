//! Whether the CIDR blocks of a secret id stay inside the blocks of its role (OpenBao's subset rule).

use std::net::IpAddr;

use engine_sdk::cidr::Cidr;

use crate::ApproleError;

/// A canonical block as (network address, prefix length).
fn parts(block: &str) -> Option<(IpAddr, u8)> {
    Cidr::parse(block).ok()?;
    match block.split_once('/') {
        Some((addr, prefix)) => Some((addr.parse().ok()?, prefix.parse().ok()?)),
        None => {
            let addr: IpAddr = block.parse().ok()?;
            Some((addr, if addr.is_ipv4() { 32 } else { 128 }))
        }
    }
}

/// Whether `inner` lies entirely inside `outer`.
fn inside(inner: &str, outer: &str) -> bool {
    let (Some((addr, inner_prefix)), Some((_, outer_prefix))) = (parts(inner), parts(outer)) else {
        return false;
    };
    let Ok(outer_block) = Cidr::parse(outer) else {
        return false;
    };
    // Compare within one family: an IPv4 block is never inside an IPv6 one here.
    let same_family = parts(outer).is_some_and(|(o, _)| o.is_ipv4() == addr.is_ipv4());
    same_family && outer_prefix <= inner_prefix && outer_block.contains(addr)
}

/// Checks that every block of a secret id (`secret`) is inside some block of the role (`role`); an empty role
/// list allows anything.
pub(crate) fn check(secret: &[String], role: &[String]) -> Result<(), ApproleError> {
    if secret.is_empty() || role.is_empty() {
        return Ok(());
    }
    if secret.iter().all(|s| role.iter().any(|r| inside(s, r))) {
        Ok(())
    } else {
        Err(ApproleError::invalid(format!(
            "failed to verify subset relationship between CIDR blocks on the role {role:?} and CIDR blocks on the secret ID {secret:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subsets() {
        assert!(check(&v(&["10.1.0.0/16"]), &v(&["10.0.0.0/8"])).is_ok());
        assert!(check(&v(&["10.1.2.3"]), &v(&["10.0.0.0/8"])).is_ok());
        assert!(check(&v(&["10.1.2.3"]), &v(&["10.1.2.3"])).is_ok());
        assert!(check(&v(&["10.0.0.0/8"]), &v(&["10.1.0.0/16"])).is_err());
        assert!(check(&v(&["11.0.0.1"]), &v(&["10.0.0.0/8"])).is_err());
        assert!(check(&v(&["2001:db8::1"]), &v(&["2001:db8::/32"])).is_ok());
        assert!(check(&v(&["10.0.0.1"]), &v(&["::/0"])).is_err());
        assert!(check(&v(&["10.0.0.1"]), &[]).is_ok());
        assert!(check(&[], &v(&["10.0.0.0/8"])).is_ok());
    }
}
