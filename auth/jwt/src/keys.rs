//! Public keys from PEM (`jwt_validation_pubkeys`) and from JWKs, and signature verification with ring.

use jsonwebtoken::{DecodingKey, DecodingKeyKind};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use serde_json::Value;

use crate::jwt::{Alg, b64url_decode};

/// The key material, in the forms ring verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// An RSA key as a DER `RSAPublicKey` (from PEM).
    RsaDer(Vec<u8>),
    /// An RSA key as big-endian modulus and exponent (from a JWK).
    RsaParts { n: Vec<u8>, e: Vec<u8> },
    /// A P-256 point, `04 || x || y`.
    P256(Vec<u8>),
    /// A P-384 point, `04 || x || y`.
    P384(Vec<u8>),
    /// An Ed25519 key (32 bytes).
    Ed25519(Vec<u8>),
}

/// A verification key, with the JWK's `kid` and `alg` when it came from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    /// The JWK's key id.
    pub(crate) kid: Option<String>,
    /// The JWK's pinned algorithm.
    alg: Option<String>,
    material: Material,
}

impl PublicKey {
    /// Parses a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY`) or certificate: RSA, P-256, P-384 or Ed25519.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let bytes = pem.trim().as_bytes();
        let der = |k: DecodingKey| match k.kind() {
            DecodingKeyKind::SecretOrDer(d) => Some(d.clone()),
            DecodingKeyKind::RsaModulusExponent { .. } => None,
        };
        let material = if let Some(d) = DecodingKey::from_rsa_pem(bytes).ok().and_then(der) {
            Material::RsaDer(d)
        } else if let Some(point) = DecodingKey::from_ec_pem(bytes).ok().and_then(der) {
            match point.len() {
                65 => Material::P256(point),
                97 => Material::P384(point),
                n => return Err(format!("unsupported EC public key ({n}-byte point)")),
            }
        } else if let Some(k) = DecodingKey::from_ed_pem(bytes).ok().and_then(der) {
            if k.len() != 32 {
                return Err("unsupported EdDSA public key (only Ed25519)".into());
            }
            Material::Ed25519(k)
        } else {
            return Err(
                "not a PEM-encoded RSA, EC (P-256, P-384) or Ed25519 public key or certificate"
                    .into(),
            );
        };
        Ok(Self {
            kid: None,
            alg: None,
            material,
        })
    }

    /// Parses one JWK; `Ok(None)` for a key this server cannot use for signatures (symmetric, encryption-only,
    /// another curve), which a JWKS may legitimately contain.
    pub(crate) fn from_jwk(jwk: &Value) -> Result<Option<Self>, String> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            kid: Option<String>,
            alg: Option<String>,
            #[serde(rename = "use")]
            usage: Option<String>,
            crv: Option<String>,
            n: Option<String>,
            e: Option<String>,
            x: Option<String>,
            y: Option<String>,
        }
        let jwk: Jwk =
            serde_json::from_value(jwk.clone()).map_err(|e| format!("malformed JWK: {e}"))?;
        if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let member = |v: &Option<String>, name: &str| {
            v.as_deref()
                .and_then(b64url_decode)
                .ok_or_else(|| format!("malformed {} JWK: bad or missing {name:?}", jwk.kty))
        };
        let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => Material::RsaParts {
                n: strip_zeros(member(&jwk.n, "n")?),
                e: strip_zeros(member(&jwk.e, "e")?),
            },
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (x, y) = (member(&jwk.x, "x")?, member(&jwk.y, "y")?);
                let size = if crv == "P-256" { 32 } else { 48 };
                if x.len() != size || y.len() != size {
                    return Err(format!(
                        "malformed EC JWK: coordinates are not {size} bytes"
                    ));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if crv == "P-256" {
                    Material::P256(point)
                } else {
                    Material::P384(point)
                }
            }
            ("OKP", Some("Ed25519")) => {
                let x = member(&jwk.x, "x")?;
                if x.len() != 32 {
                    return Err("malformed OKP JWK: x is not 32 bytes".into());
                }
                Material::Ed25519(x)
            }
            _ => return Ok(None),
        };
        Ok(Some(Self {
            kid: jwk.kid,
            alg: jwk.alg,
            material,
        }))
    }

    /// Whether this key may be used with `alg` (its type fits, and a JWK's pinned `alg` agrees).
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (
                Material::RsaDer(_) | Material::RsaParts { .. },
                Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512
            ) | (Material::P256(_), Alg::Es256)
                | (Material::P384(_), Alg::Es384)
                | (Material::Ed25519(_), Alg::EdDsa)
        )
    }

    /// Whether `sig` is this key's `alg` signature over `message`.
    pub(crate) fn verifies(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        let rsa: Option<&'static signature::RsaParameters> = match alg {
            Alg::Rs256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Alg::Rs384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Alg::Rs512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            Alg::Ps256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
            Alg::Ps384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
            Alg::Ps512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
            Alg::Es256 | Alg::Es384 | Alg::EdDsa => None,
        };
        match (&self.material, rsa) {
            (Material::RsaParts { n, e }, Some(params)) => RsaPublicKeyComponents { n, e }
                .verify(params, message, sig)
                .is_ok(),
            (Material::RsaDer(der), Some(params)) => unparsed(params, der, message, sig),
            (Material::P256(point), None) => {
                unparsed(&signature::ECDSA_P256_SHA256_FIXED, point, message, sig)
            }
            (Material::P384(point), None) => {
                unparsed(&signature::ECDSA_P384_SHA384_FIXED, point, message, sig)
            }
            (Material::Ed25519(key), None) => unparsed(&signature::ED25519, key, message, sig),
            _ => false,
        }
    }
}

fn unparsed(
    alg: &'static dyn VerificationAlgorithm,
    key: &[u8],
    message: &[u8],
    sig: &[u8],
) -> bool {
    UnparsedPublicKey::new(alg, key)
        .verify(message, sig)
        .is_ok()
}

/// Big-endian integers from JWKs may carry leading zeros, which ring refuses.
fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros.min(v.len().saturating_sub(1)));
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn jwks_members() {
        let ec = PublicKey::from_jwk(&json!({
            "kty": "EC", "crv": "P-256", "kid": "a",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }))
        .unwrap()
        .unwrap();
        assert!(ec.fits(Alg::Es256) && !ec.fits(Alg::Es384) && !ec.fits(Alg::Rs256));
        assert_eq!(ec.kid.as_deref(), Some("a"));

        // Keys a JWKS may hold but that never verify signatures here.
        for skip in [
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}),
        ] {
            assert_eq!(PublicKey::from_jwk(&skip).unwrap(), None, "{skip}");
        }
        assert!(
            PublicKey::from_jwk(&json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}))
                .is_err()
        );
        assert!(PublicKey::from_jwk(&json!({"kty": "RSA"})).is_err());
        assert!(PublicKey::from_jwk(&json!({"no": "kty"})).is_err());

        // A pinned alg restricts the key.
        let pinned =
            PublicKey::from_jwk(&json!({"kty": "RSA", "alg": "RS384", "n": "AQAB", "e": "AQAB"}))
                .unwrap()
                .unwrap();
        assert!(pinned.fits(Alg::Rs384) && !pinned.fits(Alg::Rs256));
        assert_eq!(strip_zeros(vec![0, 0, 1, 2]), vec![1, 2]);
        assert_eq!(strip_zeros(vec![0]), vec![0]);
    }

    #[test]
    fn pem_errors() {
        assert!(PublicKey::from_pem("not a key").is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }
}
