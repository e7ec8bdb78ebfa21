//! Shamir secret sharing over GF(256) (vsss-rs `Gf256`). Each share is `[x][y bytes]`, one byte longer than the
//! secret. Combining fewer than the threshold (or mismatched) shares yields a wrong secret, not an error: verify a
//! reconstruction by opening something with it ([`crate::load_root_key`] does).

use vsss_rs::Gf256;
use zeroize::Zeroizing;

use crate::BarrierError;
use crate::rand::ShamirRng;

/// Splits `secret` into `shares` shares, any `threshold` of which recover it. With one share (threshold 1) the
/// share is the secret itself, as in Vault; more than one share needs a threshold of at least two.
pub fn split(
    secret: &[u8],
    shares: u8,
    threshold: u8,
) -> Result<Vec<Zeroizing<Vec<u8>>>, BarrierError> {
    let invalid = |m: &str| Err(BarrierError::InvalidShares(m.to_owned()));
    if secret.is_empty() {
        return invalid("secret is empty");
    }
    if shares == 0 {
        return invalid("shares must be at least one");
    }
    if threshold == 0 {
        return invalid("threshold must be at least one");
    }
    if threshold > shares {
        return invalid("threshold cannot be larger than shares");
    }
    if shares == 1 {
        return Ok(vec![Zeroizing::new(secret.to_vec())]);
    }
    if threshold == 1 {
        return invalid("threshold must be greater than one for multiple shares");
    }
    let mut rng = ShamirRng::default();
    let out = Gf256::split_bytes(
        usize::from(threshold),
        usize::from(shares),
        secret,
        &mut rng,
    )
    .map_err(|e| BarrierError::InvalidShares(format!("split failed: {e:?}")))?;
    let out: Vec<Zeroizing<Vec<u8>>> = out.into_iter().map(Zeroizing::new).collect();
    if rng.failed() {
        return Err(BarrierError::Random);
    }
    Ok(out)
}

/// Recombines shares from [`split`]. One share is returned as is (the threshold-1 case).
pub fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    let invalid = |m: &str| Err(BarrierError::InvalidShares(m.to_owned()));
    let Some(first) = shares.first() else {
        return invalid("no shares given");
    };
    if shares.len() == 1 {
        return Ok(first.clone());
    }
    if shares.len() > 255 {
        return invalid("more than 255 shares");
    }
    if first.len() < 2 {
        return invalid("share too short");
    }
    if shares.iter().any(|s| s.len() != first.len()) {
        return invalid("shares have different lengths");
    }
    // vsss-rs wants `&[Vec<u8>]`; keep the copy wiped.
    let copies: Zeroizing<Vec<Vec<u8>>> =
        Zeroizing::new(shares.iter().map(|s| s.to_vec()).collect());
    let secret = Gf256::combine_bytes(copies.as_slice()).map_err(|e| match e {
        vsss_rs::Error::SharingDuplicateIdentifier => {
            BarrierError::InvalidShares("duplicate share".into())
        }
        other => BarrierError::InvalidShares(format!("cannot combine: {other:?}")),
    })?;
    Ok(Zeroizing::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> Vec<u8> {
        (0..32u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect()
    }

    #[test]
    fn one_of_one_is_the_key() {
        let s = secret();
        let shares = split(&s, 1, 1).unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].as_slice(), s.as_slice());
        assert_eq!(combine(&shares).unwrap().as_slice(), s.as_slice());
    }

    #[test]
    fn three_of_five_any_subset() {
        let s = secret();
        let shares = split(&s, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        assert!(shares.iter().all(|sh| sh.len() == 33));
        for a in 0..5 {
            for b in a + 1..5 {
                for c in b + 1..5 {
                    let pick = [shares[a].clone(), shares[b].clone(), shares[c].clone()];
                    assert_eq!(
                        combine(&pick).unwrap().as_slice(),
                        s.as_slice(),
                        "{a}{b}{c}"
                    );
                }
            }
        }
        // All five also work; two give a wrong secret rather than an error.
        assert_eq!(combine(&shares).unwrap().as_slice(), s.as_slice());
        let two = combine(&shares[..2]).unwrap();
        assert_ne!(two.as_slice(), s.as_slice());
    }

    #[test]
    fn max_255_of_255() {
        let s = secret();
        let shares = split(&s, 255, 255).unwrap();
        assert_eq!(shares.len(), 255);
        assert_eq!(combine(&shares).unwrap().as_slice(), s.as_slice());
        assert_ne!(combine(&shares[..254]).unwrap().as_slice(), s.as_slice());
    }

    #[test]
    fn bad_parameters_and_shares() {
        let s = secret();
        assert!(split(&s, 0, 0).is_err());
        assert!(split(&s, 3, 0).is_err());
        assert!(split(&s, 3, 4).is_err());
        assert!(split(&s, 3, 1).is_err(), "1-of-n rejected as in Vault");
        assert!(split(&[], 3, 2).is_err());
        let shares = split(&s, 3, 2).unwrap();
        assert!(combine(&[]).is_err());
        assert!(matches!(
            combine(&[shares[0].clone(), shares[0].clone()]),
            Err(BarrierError::InvalidShares(_))
        ));
        let short = Zeroizing::new(shares[1][..10].to_vec());
        assert!(combine(&[shares[0].clone(), short]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 1..80), n in 2u8..=20, t_seed: u8,
                      order in any::<proptest::sample::Index>()) {
            let t = 2 + t_seed % (n - 1);
            let shares = split(&data, n, t).unwrap();
            prop_assert_eq!(shares.len(), usize::from(n));
            // A rotated window of exactly t shares.
            let start = order.index(usize::from(n));
            let pick: Vec<_> = (0..usize::from(t)).map(|i| shares[(start + i) % usize::from(n)].clone()).collect();
            let got = combine(&pick).unwrap();
            prop_assert_eq!(got.as_slice(), data.as_slice());
        }
    }
}
