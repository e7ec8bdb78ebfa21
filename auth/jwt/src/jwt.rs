//! JWS compact tokens: splitting, decoding the header and claims, and the signing algorithms accepted. `none` and
//! the HMAC algorithms are not in [`Alg`], so a token using them can never verify.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// base64url, with or without padding.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Largest token accepted; real JWTs are a few KiB.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// An asymmetric JWS signing algorithm this server verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// Every algorithm, the default for `jwt_supported_algs`.
    pub(crate) const ALL: [Alg; 9] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::Es384,
        Alg::EdDsa,
    ];

    /// The JOSE name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `name`, if supported.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub(crate) struct Token<'a> {
    /// The header's `alg`.
    pub(crate) alg: String,
    /// The header's `kid`, if any.
    pub(crate) kid: Option<String>,
    /// The claims.
    pub(crate) claims: Map<String, Value>,
    /// What was signed: `header.payload` as sent.
    pub(crate) signing_input: &'a str,
    /// The signature bytes.
    pub(crate) signature: Vec<u8>,
}

fn json_object(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = B64URL
        .decode(part)
        .map_err(|_| format!("malformed token: {what} is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(format!("malformed token: {what} is not a JSON object")),
    }
}

/// Splits and decodes a compact JWS. The errors name the defect, never the token's content.
pub(crate) fn parse(token: &str) -> Result<Token<'_>, String> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("malformed token: too long".into());
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed token: expected three dot-separated parts".into());
    };
    let head = json_object(header, "header")?;
    let alg = match head.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err("malformed token: header has no alg".into()),
    };
    // Extensions we would have to understand to verify correctly.
    if head.contains_key("crit") {
        return Err("token uses critical header extensions, which are not supported".into());
    }
    let kid = match head.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("malformed token: kid is not a string".into()),
    };
    let claims = json_object(payload, "payload")?;
    let signature = B64URL
        .decode(signature)
        .map_err(|_| "malformed token: signature is not base64url".to_owned())?;
    if signature.is_empty() {
        return Err("token must be signed".into());
    }
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or_else(|| "malformed token".to_owned())?;
    Ok(Token {
        alg,
        kid,
        claims,
        signing_input,
        signature,
    })
}

/// base64url without padding, for JWK members.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    B64URL.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn parses_and_rejects() {
        let t = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"RS256","kid":"k1"}"#),
            enc(r#"{"sub":"x"}"#),
            enc("sig")
        );
        let p = parse(&t).unwrap();
        assert_eq!(p.alg, "RS256");
        assert_eq!(p.kid.as_deref(), Some("k1"));
        assert_eq!(p.claims["sub"], "x");
        assert_eq!(p.signature, b"sig");
        assert_eq!(p.signing_input.matches('.').count(), 1);

        let unsigned = format!("{}.{}.", enc(r#"{"alg":"none"}"#), enc("{}"));
        assert_eq!(parse(&unsigned).unwrap_err(), "token must be signed");
        for bad in [
            "a.b",
            "a.b.c.d",
            "!!.e30.c2ln",
            &format!("{}.{}.c2ln", enc("[]"), enc("{}")),
            &format!("{}.{}.c2ln", enc(r#"{"typ":"JWT"}"#), enc("{}")),
            &format!(
                "{}.{}.c2ln",
                enc(r#"{"alg":"RS256","crit":["x"]}"#),
                enc("{}")
            ),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(Alg::parse("none").is_none());
        assert!(Alg::parse("HS256").is_none());
        assert!(Alg::parse("ES512").is_none());
        assert_eq!(Alg::parse("EdDSA"), Some(Alg::EdDsa));
    }
}
