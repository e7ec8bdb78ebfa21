//! Service-account JWTs: parsing (legacy and projected claims), the optional local signature check against
//! `pem_keys`, and the time, issuer and audience checks OpenBao makes before asking the API server.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{DecodingKey, DecodingKeyKind};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::{Map, Value};

use crate::Reason;
use crate::error::Denial;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (OpenBao's JWT library default).
const LEEWAY_SECS: i64 = 150;
/// The issuer of legacy (secret-based) service-account tokens, expected when issuer validation is on and no
/// `issuer` is configured.
pub(crate) const DEFAULT_ISSUER: &str = "kubernetes/serviceaccount";

/// base64url, with or without padding.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The signing algorithms Kubernetes uses (OpenBao's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Es256,
    Es384,
    Es512,
}

impl Alg {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "ES512" => Alg::Es512,
            _ => return None,
        })
    }
}

/// An elliptic curve of an EC public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// A `pem_keys` entry, ready for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// An RSA key as a DER `RSAPublicKey`.
    Rsa(Vec<u8>),
    /// An EC key as an uncompressed point.
    Ec {
        /// Its curve.
        curve: Curve,
        /// `04 || x || y`.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// Parses a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY`) or certificate (`CERTIFICATE`, whose key is used).
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let bytes = pem.trim().as_bytes();
        if let Ok(key) = DecodingKey::from_rsa_pem(bytes)
            && let DecodingKeyKind::SecretOrDer(der) = key.kind()
        {
            return Ok(PublicKey::Rsa(der.clone()));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(bytes)
            && let DecodingKeyKind::SecretOrDer(point) = key.kind()
        {
            let curve = match point.len() {
                65 => Curve::P256,
                97 => Curve::P384,
                133 => Curve::P521,
                n => return Err(format!("unsupported EC public key ({n} bytes)")),
            };
            return Ok(PublicKey::Ec {
                curve,
                point: point.clone(),
            });
        }
        Err("not a PEM-encoded RSA or EC public key or certificate".to_owned())
    }

    /// Whether this key verifies `signature` over `message` with `alg`.
    fn verifies(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        let (params, key): (&'static dyn VerificationAlgorithm, &[u8]) = match (self, alg) {
            (PublicKey::Rsa(der), Alg::Rs256) => (&signature::RSA_PKCS1_2048_8192_SHA256, der),
            (PublicKey::Rsa(der), Alg::Rs384) => (&signature::RSA_PKCS1_2048_8192_SHA384, der),
            (PublicKey::Rsa(der), Alg::Rs512) => (&signature::RSA_PKCS1_2048_8192_SHA512, der),
            (
                PublicKey::Ec {
                    curve: Curve::P256,
                    point,
                },
                Alg::Es256,
            ) => (&signature::ECDSA_P256_SHA256_FIXED, point),
            (
                PublicKey::Ec {
                    curve: Curve::P384,
                    point,
                },
                Alg::Es384,
            ) => (&signature::ECDSA_P384_SHA384_FIXED, point),
            // ring has no P-521; such keys never verify (a token signed with one is refused).
            _ => return false,
        };
        UnparsedPublicKey::new(params, key)
            .verify(message, sig)
            .is_ok()
    }
}

/// Who a service-account JWT says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServiceAccount {
    /// The service account's name.
    pub(crate) name: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// Its UID.
    pub(crate) uid: String,
    /// The token Secret's name (legacy tokens only, else "").
    pub(crate) secret_name: String,
    /// The JWT's `aud`.
    pub(crate) audiences: Vec<String>,
}

/// What a JWT must satisfy.
#[derive(Debug)]
pub(crate) struct Expectations<'a> {
    /// Keys to verify the signature with; empty = no local signature check (OpenBao's default).
    pub(crate) keys: &'a [PublicKey],
    /// The required `iss`, if issuer validation is on.
    pub(crate) issuer: Option<&'a str>,
    /// An audience `aud` must contain, if the role has one.
    pub(crate) audience: Option<&'a str>,
    /// Now.
    pub(crate) now: SystemTime,
}

/// Whether `s` has the shape of a compact JWS (three base64url parts, a JSON header with an `alg`).
pub(crate) fn looks_like_jwt(s: &str) -> bool {
    split(s).is_ok()
}

/// The decoded parts of a compact JWS.
struct Parts<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signed: &'a str,
    signature: Vec<u8>,
}

fn split(jwt: &str) -> Result<Parts<'_>, Denial> {
    let bad = |what: &str| Denial::new(Reason::JwtMalformed, format!("the JWT {what}"));
    let mut it = jwt.trim().split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad("is not a compact JWS (three dot-separated parts)"));
    };
    let json = |part: &str, what: &str| -> Result<Map<String, Value>, Denial> {
        let bytes = B64URL
            .decode(part)
            .map_err(|_| bad(&format!("{what} is not base64url")))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad(&format!("{what} is not a JSON object"))),
        }
    };
    let header = json(h, "header")?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err(bad("header has no alg"));
    }
    let claims = json(c, "payload")?;
    let signature = B64URL
        .decode(s)
        .map_err(|_| bad("signature is not base64url"))?;
    let signed_len = h.len() + 1 + c.len();
    let signed = jwt.trim().get(..signed_len).unwrap_or_default();
    Ok(Parts {
        header,
        claims,
        signed,
        signature,
    })
}

/// Parses and checks `jwt` as OpenBao does before the TokenReview: algorithm, signature (with `pem_keys`),
/// `exp`/`nbf`/`iat` (each optional), issuer, audience, then extracts the service account.
pub(crate) fn validate(jwt: &str, want: &Expectations<'_>) -> Result<ServiceAccount, Denial> {
    let parts = split(jwt)?;
    let alg_name = parts
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(alg) = Alg::parse(alg_name) else {
        return Err(Denial::new(
            Reason::JwtUnsupportedAlgorithm,
            format!("signing algorithm {alg_name:?} is not accepted"),
        ));
    };
    if !want.keys.is_empty() {
        let ok = want
            .keys
            .iter()
            .any(|k| k.verifies(alg, parts.signed.as_bytes(), &parts.signature));
        if !ok {
            return Err(Denial::new(
                Reason::JwtBadSignature,
                format!("no pem_keys entry verifies the {alg_name} signature"),
            ));
        }
    }

    let claims = &parts.claims;
    check_times(claims, want.now)?;
    if let Some(issuer) = want.issuer {
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss != issuer {
            return Err(Denial::new(
                Reason::JwtIssuerMismatch,
                format!("issuer {iss:?} is not the expected {issuer:?}"),
            ));
        }
    }
    let audiences = audiences(claims);
    if let Some(aud) = want.audience
        && !audiences.iter().any(|a| a == aud)
    {
        return Err(Denial::new(
            Reason::AudienceMismatch,
            format!("the JWT's audiences {audiences:?} do not include the role's {aud:?}"),
        ));
    }

    let sa = service_account(claims, audiences);
    if sa.name.is_empty() || sa.namespace.is_empty() || sa.uid.is_empty() {
        return Err(Denial::new(
            Reason::JwtNoServiceAccount,
            "the JWT names no service account (namespace, name or uid claim missing)",
        ));
    }
    Ok(sa)
}

/// `exp`, `nbf` and `iat`, each checked only when present, with [`LEEWAY_SECS`] of skew.
fn check_times(claims: &Map<String, Value>, now: SystemTime) -> Result<(), Denial> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let num = |name: &str| -> Result<Option<i64>, Denial> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            // Whole seconds: fractions never change the outcome by more than the leeway.
            Some(Value::Number(n)) => Ok(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))),
            Some(_) => Err(Denial::new(
                Reason::JwtMalformed,
                format!("the JWT's {name} claim is not a number"),
            )),
        }
    };
    if let Some(exp) = num("exp")?
        && now > exp.saturating_add(LEEWAY_SECS)
    {
        return Err(Denial::new(
            Reason::JwtExpired,
            format!("the JWT expired {}s ago", now.saturating_sub(exp)),
        ));
    }
    if let Some(nbf) = num("nbf")?
        && now.saturating_add(LEEWAY_SECS) < nbf
    {
        return Err(Denial::new(
            Reason::JwtNotYetValid,
            format!(
                "the JWT is not valid for another {}s",
                nbf.saturating_sub(now)
            ),
        ));
    }
    if let Some(iat) = num("iat")?
        && now.saturating_add(LEEWAY_SECS) < iat
    {
        return Err(Denial::new(
            Reason::JwtNotYetValid,
            format!(
                "the JWT was issued {}s in the future",
                iat.saturating_sub(now)
            ),
        ));
    }
    Ok(())
}

/// `aud`: one string or a list.
fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The service account, from the projected `kubernetes.io` claim when present, else from the legacy
/// `kubernetes.io/serviceaccount/...` claims (OpenBao's precedence).
fn service_account(claims: &Map<String, Value>, audiences: Vec<String>) -> ServiceAccount {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let legacy = |name: &str| text(claims.get(&format!("kubernetes.io/serviceaccount/{name}")));
    let mut sa = ServiceAccount {
        name: legacy("service-account.name"),
        namespace: legacy("namespace"),
        uid: legacy("service-account.uid"),
        secret_name: legacy("secret.name"),
        audiences,
    };
    if let Some(projected) = claims.get("kubernetes.io").and_then(Value::as_object) {
        sa.namespace = text(projected.get("namespace"));
        if let Some(account) = projected.get("serviceaccount").and_then(Value::as_object) {
            sa.name = text(account.get("name"));
            sa.uid = text(account.get("uid"));
        }
    }
    sa
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    fn b64(v: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    struct Signer {
        key: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl Signer {
        fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            Self { key, rng }
        }

        fn public(&self) -> PublicKey {
            PublicKey::Ec {
                curve: Curve::P256,
                point: self.key.public_key().as_ref().to_vec(),
            }
        }

        fn sign(&self, claims: Value) -> String {
            let msg = format!(
                "{}.{}",
                b64(br#"{"alg":"ES256","typ":"JWT"}"#),
                b64(claims.to_string().as_bytes())
            );
            let sig = self.key.sign(&self.rng, msg.as_bytes()).unwrap();
            format!("{msg}.{}", b64(sig.as_ref()))
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn projected() -> Value {
        json!({
            "iss": "https://kubernetes.default.svc", "aud": ["vault", "api"], "sub": "system:serviceaccount:ns:app",
            "exp": 1_700_000_600, "nbf": 1_699_999_900, "iat": 1_699_999_900,
            "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "app", "uid": "u-1"}, "pod": {"name": "p", "uid": "pu"}}
        })
    }

    fn want<'a>(keys: &'a [PublicKey]) -> Expectations<'a> {
        Expectations {
            keys,
            issuer: None,
            audience: None,
            now: now(),
        }
    }

    #[test]
    fn projected_and_legacy_claims() {
        let s = Signer::new();
        let sa = validate(&s.sign(projected()), &want(&[])).unwrap();
        assert_eq!(
            sa,
            ServiceAccount {
                name: "app".into(),
                namespace: "ns".into(),
                uid: "u-1".into(),
                secret_name: String::new(),
                audiences: vec!["vault".into(), "api".into()],
            }
        );
        let legacy = json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "ns",
            "kubernetes.io/serviceaccount/secret.name": "app-token-x",
            "kubernetes.io/serviceaccount/service-account.name": "app",
            "kubernetes.io/serviceaccount/service-account.uid": "u-2",
            "sub": "system:serviceaccount:ns:app"
        });
        let mut w = want(&[]);
        w.issuer = Some(DEFAULT_ISSUER);
        let sa = validate(&s.sign(legacy), &w).unwrap();
        assert_eq!(
            (sa.uid.as_str(), sa.secret_name.as_str()),
            ("u-2", "app-token-x")
        );
        assert!(sa.audiences.is_empty());
    }

    #[test]
    fn signature_checked_only_with_keys() {
        let s = Signer::new();
        let other = Signer::new();
        let token = s.sign(projected());
        assert!(validate(&token, &want(&[s.public()])).is_ok());
        let e = validate(&token, &want(&[other.public()])).unwrap_err();
        assert_eq!(e.reason, Reason::JwtBadSignature);
        // Any of several keys will do.
        assert!(validate(&token, &want(&[other.public(), s.public()])).is_ok());
        // A tampered payload fails.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(projected().to_string().replace("app", "adm").as_bytes());
        parts[1] = &forged;
        let e = validate(&parts.join("."), &want(&[s.public()])).unwrap_err();
        assert_eq!(e.reason, Reason::JwtBadSignature);
    }

    #[test]
    fn refusals() {
        let s = Signer::new();
        let reason =
            |claims: Value, w: &Expectations<'_>| validate(&s.sign(claims), w).unwrap_err().reason;
        let mut c = projected();
        c["exp"] = json!(1_700_000_000 - 151);
        assert_eq!(reason(c.clone(), &want(&[])), Reason::JwtExpired);
        c["exp"] = json!(1_700_000_000 - 149);
        assert!(validate(&s.sign(c), &want(&[])).is_ok(), "within leeway");
        let mut c = projected();
        c["nbf"] = json!(1_700_000_200);
        assert_eq!(reason(c, &want(&[])), Reason::JwtNotYetValid);
        let mut c = projected();
        c["exp"] = json!("soon");
        assert_eq!(reason(c, &want(&[])), Reason::JwtMalformed);

        let mut w = want(&[]);
        w.audience = Some("other");
        assert_eq!(reason(projected(), &w), Reason::AudienceMismatch);
        w.audience = Some("vault");
        assert!(validate(&s.sign(projected()), &w).is_ok());
        let mut c = projected();
        c["aud"] = json!("vault");
        assert!(validate(&s.sign(c), &w).is_ok(), "a single-string aud");

        let mut w = want(&[]);
        w.issuer = Some(DEFAULT_ISSUER);
        assert_eq!(reason(projected(), &w), Reason::JwtIssuerMismatch);

        let mut c = projected();
        c["kubernetes.io"]["serviceaccount"] = json!({"name": "app"});
        assert_eq!(reason(c, &want(&[])), Reason::JwtNoServiceAccount);

        for bad in ["", "a.b", "a.b.c.d", "!!.e30.e30", "e30.e30.e30"] {
            assert_eq!(
                validate(bad, &want(&[])).unwrap_err().reason,
                Reason::JwtMalformed,
                "{bad}"
            );
        }
        let hs = format!(
            "{}.{}.",
            b64(br#"{"alg":"HS256"}"#),
            b64(projected().to_string().as_bytes())
        );
        assert_eq!(
            validate(&hs, &want(&[])).unwrap_err().reason,
            Reason::JwtUnsupportedAlgorithm
        );
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(projected().to_string().as_bytes())
        );
        assert_eq!(
            validate(&none, &want(&[])).unwrap_err().reason,
            Reason::JwtUnsupportedAlgorithm
        );
        assert!(looks_like_jwt(&s.sign(projected())));
        assert!(!looks_like_jwt("abc"));
    }

    #[test]
    fn pem_parsing() {
        assert!(PublicKey::from_pem("junk").is_err());
        // An EC SPKI built by hand around a ring key.
        let s = Signer::new();
        let point = s.key.public_key().as_ref();
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(point);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&spki)
        );
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), s.public());
    }
}
