//! Signing keys for tests: a fixed RSA key (ring cannot generate RSA keys) and fresh EC/Ed25519 keys, their JWKs
//! and PEM public keys, and JWT minting.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// A 2048-bit RSA test key (PKCS#8), made for these tests only.
const RSA_PKCS8_PEM: &str = "\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCjJyR0CqyB53uFjH5lB70EQmLtmDdpCVOw/jJ7zOAd22A3aWb7og8zCI5eVQ7/MVPBHGXRr5wK3n8upIG7av/oAGOd+cSGZ8qX3LLqwgFnPcccM+nhUKXy4Mho+hxvw9Si/RUNHgGJC3yjQ6uxpHdBwTzglNT/Nv4jTed03hC2kqFG+10dszg4unbicDcQKm53BYWchDaa5QNqeEPM7lk68n/nDLh6XLK0Iw6beF1ifFfklu8PSMhMK/I1Fp4vblfFqnO67zYHQVkswCq9ihDg8DwS2YI4a/II11gM6qYRi6GzfStJeEBe7aNfXprc/stJaeSoXnAoCrAZTuy1Nw1dAgMBAAECggEAC539Y//gka1kZ7l9xH7dECET/zv/8gw2d9tZx+PqL2YP/1ITgaZj86vPy1q+IyCliJIXk+svrrxyDOWs0SYIy8G/Vh/TRQi97btKyBmBVRMaiuENbbw63MTxsDvi63hjuylPJux0iogVW2C1qIP/8+ApEAq48eU+ClCBQxqO0RkZn4C8uGMalnaXzE3XYuWhY1yuT/NjRHZnmoj8x11l+QQ6QC9GGysnZdf07w7YsZSeu5S4ybLt3Hs729tQYHbfIZwaJajQ6Q/QRaEMj8Vst+t7oroAXdIQJD2f7VcG7nbz1vJGbSE1V0QXruKJKeDeghOMuZDCrtSMeLCGze6olwKBgQDUYtDdNJqbVwVXAWmNt+Qsf3Et8H4J7Nph9qNnYKQvq1QpCNHSPlkvfAELDQ8FIbrKjVf0wqg3TPe3t6m+P/bnbDSVORimWJ7IOJZXUdEopmG+eUz6vc+8ibC8Vc5MXl5Rw1UUI1zictWLizI1WTXZAA/yNNVJy2tGM8GGWijHswKBgQDEqCFhe/20r9SneAukqzFsSpPW1AFjy0WgxSCvv5ViEg/+I2fzPTvZZy652i8ZFjIUEFDQazMCbEk/jze0FnUvNI4MRdME3i+CJRuGTHsU3Xoiha6zimLUE+L8NuFOnmtQU+JYFG9UkfbZ6+pX8R4KBB2x/EzfnbNIlYpbAIpOrwKBgHooiBfjjNWyXMjpcAvqbFxHxRJ2VBhjWkykbuIkDOu6MMMVZpH1+Jg+S99OWIhMGUMtvxxx5g1AwO6zvfdGlT4Q18HIwGvVZyaknZyF27b01B2ZaXSDPnwj+jqpY+o7EScYIdRebqt0/2yu2Gck87rntURLrS4vyXjshfA/5VrPAoGAag9HGX02gglGRh+PH/sYB5BdFUJ3kWuinKdUDpTjquWU7HoJ6PxAV+q3H5LVTdFTptB51T3LX+YoxvelkiF+h7vvVB0gRoLR2n3Kz25V/xXHdfDlHH1o+XnUNDQg5Ta5J7Rl4Rz8Qf8Kw9LhKxamHb7EiSZKC1vQwjesS5IKBY8CgYEAztcQvM4u2/6MUN4o0fJFjairqdyRZ15C0IJ07uM2ug//EhI3FlddgymB0fZD68Id9FDFU6tAOTMUciBbcZmAtN+C6nDveky/Wku8yjJOOf0G+2hZdrfwVL4wK/dyNcqoPBIrbynjkslgsypRtHeMGPy27WrNygpUEbQDVzxJt9g=";

/// The same key's public half as an SPKI `PUBLIC KEY` PEM, as `openssl pkey -pubout` prints it.
pub(crate) const RSA_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoyckdAqsged7hYx+ZQe9
BEJi7Zg3aQlTsP4ye8zgHdtgN2lm+6IPMwiOXlUO/zFTwRxl0a+cCt5/LqSBu2r/
6ABjnfnEhmfKl9yy6sIBZz3HHDPp4VCl8uDIaPocb8PUov0VDR4BiQt8o0OrsaR3
QcE84JTU/zb+I03ndN4QtpKhRvtdHbM4OLp24nA3ECpudwWFnIQ2muUDanhDzO5Z
OvJ/5wy4elyytCMOm3hdYnxX5JbvD0jITCvyNRaeL25Xxapzuu82B0FZLMAqvYoQ
4PA8EtmCOGvyCNdYDOqmEYuhs30rSXhAXu2jX16a3P7LSWnkqF5wKAqwGU7stTcN
XQIDAQAB
-----END PUBLIC KEY-----
";

enum Signer {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key with its key id.
pub(crate) struct TestKey {
    pub(crate) kid: String,
    signer: Signer,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl TestKey {
    pub(crate) fn rsa(kid: &str) -> Self {
        let der = STANDARD.decode(RSA_PKCS8_PEM).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap()),
        }
    }

    pub(crate) fn p256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::P256(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()),
        }
    }

    pub(crate) fn p384(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::P384(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()),
        }
    }

    pub(crate) fn ed25519(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()),
        }
    }

    /// The default algorithm of the key.
    pub(crate) fn alg(&self) -> &'static str {
        match self.signer {
            Signer::Rsa(_) => "RS256",
            Signer::P256(_) => "ES256",
            Signer::P384(_) => "ES384",
            Signer::Ed(_) => "EdDSA",
        }
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(k) => {
                let parts = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(&parts.n), "e": b64(&parts.e)})
            }
            Signer::P256(k) | Signer::P384(k) => {
                let point = k.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                let crv = if size == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": self.kid, "crv": crv,
                       "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..])})
            }
            Signer::Ed(k) => {
                json!({"kty": "OKP", "kid": self.kid, "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// The public key as PEM: PKCS#1 `RSA PUBLIC KEY` for RSA, SPKI `PUBLIC KEY` otherwise.
    pub(crate) fn pem(&self) -> String {
        match &self.signer {
            Signer::Rsa(k) => pem("RSA PUBLIC KEY", k.public().as_ref()),
            Signer::P256(k) => {
                let mut der = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
                der.extend_from_slice(k.public_key().as_ref());
                pem("PUBLIC KEY", &der)
            }
            Signer::P384(k) => {
                let mut der = hex("3076301006072a8648ce3d020106052b81040022036200");
                der.extend_from_slice(k.public_key().as_ref());
                pem("PUBLIC KEY", &der)
            }
            Signer::Ed(k) => {
                let mut der = hex("302a300506032b6570032100");
                der.extend_from_slice(k.public_key().as_ref());
                pem("PUBLIC KEY", &der)
            }
        }
    }

    /// A JWT with the key's default algorithm and kid.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg(), claims)
    }

    /// A JWT signed with `alg` (an RSA key also does RS384/RS512/PS*).
    pub(crate) fn sign_as(&self, alg: &str, claims: &Value) -> String {
        self.sign_header(&json!({"alg": alg, "kid": self.kid, "typ": "JWT"}), claims)
    }

    /// A JWT with an arbitrary header, signed per the header's `alg`.
    pub(crate) fn sign_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match (&self.signer, header["alg"].as_str().unwrap()) {
            (Signer::Rsa(k), alg) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    other => panic!("RSA key cannot sign {other}"),
                };
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(padding, &rng, input.as_bytes(), &mut sig).unwrap();
                sig
            }
            (Signer::P256(k) | Signer::P384(k), _) => {
                k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
            }
            (Signer::Ed(k), _) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

/// A JWT with `header` signed by HMAC-SHA256 under `secret` (which a server must never accept).
pub(crate) fn hmac_token(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsigned (`alg: none`) JWT, with an empty or a junk signature.
pub(crate) fn unsigned_token(claims: &Value, junk: bool) -> String {
    format!(
        "{}.{}.{}",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        if junk { "c2ln" } else { "" }
    )
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
