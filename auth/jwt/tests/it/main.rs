//! jwt auth handler tests: requests built by hand and routed through the path table over in-memory storage, with a
//! clock the tests move, against static keys or a local HTTPS JWKS / discovery server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod keys;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use engine_sdk::testing::ManualClock;
use engine_sdk::{
    Auth, BackendConfig, Clock, EngineError, LeaseRequest, LogicalBackend, MountInfo, Operation,
    PathRouter, Request, Response, View,
};
use serde_json::{Map, Value, json};
use storage::testing::PlainMem;

use keys::{RSA_SPKI_PEM, TestKey, hmac_token, unsigned_token};
use server::KeyServer;

/// The clock's time as JWT `exp`/`iat` seconds.
fn unix(clock: &ManualClock) -> i64 {
    i64::try_from(clock.unix()).unwrap()
}

struct Harness {
    backend: Arc<dyn LogicalBackend>,
    router: PathRouter,
    view: View,
    mount: MountInfo,
    clock: ManualClock,
    remote: Mutex<Option<SocketAddr>>,
}

impl Harness {
    async fn new() -> Self {
        let view = View::new(PlainMem::shared(), "auth/uuid-1/");
        let mount = MountInfo {
            path: "auth/jwt/".into(),
            kind: "jwt".into(),
            ..MountInfo::default()
        };
        let backend = (auth_jwt::factory())(BackendConfig {
            mount: mount.clone(),
            storage: view.clone(),
        })
        .await
        .unwrap();
        let router = PathRouter::new(backend.paths()).unwrap();
        Self {
            backend,
            router,
            view,
            mount,
            clock: ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            remote: Mutex::new(Some("127.0.0.1:50000".parse().unwrap())),
        }
    }

    /// Routes like the core: 404 for no route, Create when the existence check says the target is new, 405 for
    /// an operation the spec does not serve.
    async fn call(&self, op: Operation, path: &str, data: Value) -> Result<Response, EngineError> {
        let route = self
            .router
            .route(path)
            .ok_or_else(|| EngineError::UnsupportedPath(path.into()))?;
        let data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
        let spec = self.backend.paths()[route.index];
        let remote = *self.remote.lock().unwrap();
        let req = |op| Request {
            id: "req-1",
            operation: op,
            path,
            route: &route,
            data: &data,
            storage: &self.view,
            clock: &self.clock,
            mount: &self.mount,
            caller: None,
            remote_addr: remote,
            system: &engine_sdk::testing::NoSystem,
        };
        let mut op = op;
        if op == Operation::Update && spec.existence_check && !self.backend.exists(req(op)).await? {
            op = Operation::Create;
        }
        if !spec.ops.contains(&op) {
            return Err(EngineError::UnsupportedOperation);
        }
        self.backend.handle(req(op)).await
    }

    async fn write(&self, path: &str, data: Value) -> Result<Response, EngineError> {
        self.call(Operation::Update, path, data).await
    }

    async fn read(&self, path: &str) -> Result<Map<String, Value>, EngineError> {
        let resp = self.call(Operation::Read, path, json!({})).await?;
        Ok(resp.data.unwrap())
    }

    async fn login(&self, role: &str, jwt: &str) -> Result<Auth, EngineError> {
        let resp = self
            .write("login", json!({ "role": role, "jwt": jwt }))
            .await?;
        assert!(resp.data.is_none(), "login answers with auth only");
        Ok(resp.auth.unwrap())
    }

    /// Standard claims valid now, plus `extra`.
    fn claims(&self, extra: Value) -> Value {
        let now = unix(&self.clock);
        let mut c = json!({"iss": "https://issuer.test", "sub": "user-1", "aud": "coffer",
                           "iat": now, "nbf": now, "exp": now + 300});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    /// A config with static keys and a plain role `r` bound to audience `coffer`, user claim `sub`.
    async fn with_static_keys(keys: &[&TestKey]) -> Self {
        let h = Self::new().await;
        let pems: Vec<String> = keys.iter().map(|k| k.pem()).collect();
        h.write("config", json!({ "jwt_validation_pubkeys": pems }))
            .await
            .unwrap();
        h.write(
            "role/r",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer",
                   "token_policies": "dev"}),
        )
        .await
        .unwrap();
        h
    }
}

fn invalid_msg(r: Result<impl std::fmt::Debug, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

const BAD_SIGNATURE: &str = "error validating token: error verifying token signature";
const BAD_ALG: &str = "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm";

#[tokio::test]
async fn static_keys_verify_every_supported_algorithm() {
    let rsa = TestKey::rsa("rsa");
    let (p256, p384, ed) = (
        TestKey::p256("p256"),
        TestKey::p384("p384"),
        TestKey::ed25519("ed"),
    );
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"jwt_validation_pubkeys": [RSA_SPKI_PEM, p256.pem(), p384.pem(), ed.pem()]}),
    )
    .await
    .unwrap();
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["coffer"], "token_policies": "dev",
               "token_ttl": "5m"}),
    )
    .await
    .unwrap();
    let claims = h.claims(json!({}));
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let auth = h.login("r", &rsa.sign_as(alg, &claims)).await.unwrap();
        assert_eq!(auth.policies, vec!["dev"], "{alg}");
    }
    for key in [&p256, &p384, &ed] {
        h.login("r", &key.sign(&claims)).await.unwrap();
    }
    let auth = h.login("R", &ed.sign(&claims)).await.unwrap();
    assert_eq!(auth.display_name, "user-1");
    assert_eq!(auth.alias.as_ref().unwrap().name, "user-1");
    assert_eq!(auth.metadata["role"], "r");
    assert_eq!(auth.internal["role"], json!("r"));
    assert_eq!(auth.ttl, Duration::from_secs(300));
    assert!(auth.renewable);

    // A PKCS#1 RSA PEM works too; a key outside the config does not verify.
    let h2 = Harness::with_static_keys(&[&rsa]).await;
    h2.login("r", &rsa.sign(&h2.claims(json!({}))))
        .await
        .unwrap();
    let stranger = TestKey::p256("p256");
    assert_eq!(
        invalid_msg(h.login("r", &stranger.sign(&claims)).await),
        BAD_SIGNATURE
    );

    // Restricting the algorithms.
    h.write(
        "config",
        json!({"jwt_validation_pubkeys": [RSA_SPKI_PEM, p256.pem()], "jwt_supported_algs": "RS256"}),
    )
    .await
    .unwrap();
    h.login("r", &rsa.sign(&claims)).await.unwrap();
    assert_eq!(
        invalid_msg(h.login("r", &p256.sign(&claims)).await),
        BAD_ALG
    );
    assert_eq!(
        invalid_msg(h.login("r", &rsa.sign_as("PS256", &claims)).await),
        BAD_ALG
    );
}

#[tokio::test]
async fn none_and_hmac_tokens_are_refused() {
    let rsa = TestKey::rsa("rsa");
    let h = Harness::with_static_keys(&[&rsa]).await;
    let claims = h.claims(json!({}));
    assert_eq!(
        invalid_msg(h.login("r", &unsigned_token(&claims, false)).await),
        "error validating token: token must be signed"
    );
    assert_eq!(
        invalid_msg(h.login("r", &unsigned_token(&claims, true)).await),
        BAD_ALG
    );
    // HS256 keyed with the public key (the classic algorithm-confusion attack), and with anything else.
    for secret in [RSA_SPKI_PEM.as_bytes(), rsa.pem().as_bytes(), b"secret"] {
        let t = hmac_token(&json!({"alg": "HS256", "typ": "JWT"}), &claims, secret);
        assert_eq!(invalid_msg(h.login("r", &t).await), BAD_ALG);
        // Claiming RS256 over an HMAC tag fails the signature check.
        let t = hmac_token(&json!({"alg": "RS256", "typ": "JWT"}), &claims, secret);
        assert_eq!(invalid_msg(h.login("r", &t).await), BAD_SIGNATURE);
    }
    for alg in ["HS384", "HS512", "ES512", "RSA-OAEP"] {
        let t = hmac_token(&json!({ "alg": alg }), &claims, b"secret");
        assert_eq!(invalid_msg(h.login("r", &t).await), BAD_ALG, "{alg}");
    }
    // jwt_supported_algs cannot let them in.
    for alg in ["HS256", "none"] {
        assert!(
            invalid_msg(
                h.write(
                    "config",
                    json!({"jwt_validation_pubkeys": [RSA_SPKI_PEM], "jwt_supported_algs": [alg]})
                )
                .await
            )
            .contains("unsupported signing algorithm")
        );
    }
    // A tampered payload fails.
    let good = rsa.sign(&claims);
    let parts: Vec<&str> = good.split('.').collect();
    let forged = rsa.sign(&h.claims(json!({"sub": "admin"})));
    let forged_payload = forged.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(invalid_msg(h.login("r", &tampered).await), BAD_SIGNATURE);
    assert!(
        invalid_msg(h.login("r", "not.a.jwt.at.all").await)
            .starts_with("error validating token: malformed token")
    );
}

#[tokio::test]
async fn time_claims_with_leeways() {
    let key = TestKey::p256("k");
    let h = Harness::with_static_keys(&[&key]).await;
    let now = unix(&h.clock);
    // Expired 30 s ago: inside the default 60 s clock skew leeway.
    h.login(
        "r",
        &key.sign(&h.claims(json!({"exp": now - 30, "iat": now - 600, "nbf": now - 600}))),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"exp": now - 61, "iat": now - 600, "nbf": now - 600})))
            )
            .await
        ),
        "error validating token: invalid expiration time (exp) claim: token is expired"
    );
    assert_eq!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"nbf": now + 120, "iat": null})))
            )
            .await
        ),
        "error validating token: invalid not before (nbf) claim: token not yet valid"
    );
    assert_eq!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"iat": now + 120, "nbf": null})))
            )
            .await
        ),
        "error validating token: invalid not before (nbf) claim: token not yet valid"
    );
    assert!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"iat": null, "nbf": null, "exp": null})))
            )
            .await
        )
        .contains("no issued at (iat), not before (nbf), or expiration time (exp)")
    );
    // Without exp, a token lives iat + expiration_leeway (150 s) + skew.
    let t = key.sign(&h.claims(json!({"exp": null, "nbf": null})));
    h.clock.advance(Duration::from_secs(200));
    h.login("r", &t).await.unwrap();
    h.clock.advance(Duration::from_secs(20));
    assert!(invalid_msg(h.login("r", &t).await).contains("token is expired"));

    // Leeways are per role: -1 disables the skew.
    h.write("role/r", json!({"clock_skew_leeway": -1}))
        .await
        .unwrap();
    let now = unix(&h.clock);
    assert!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"exp": now - 1, "iat": now - 10, "nbf": now - 10})))
            )
            .await
        )
        .contains("token is expired")
    );
    assert_eq!(
        h.read("role/r").await.unwrap()["clock_skew_leeway"],
        json!(-1)
    );
}

#[tokio::test]
async fn issuer_audience_and_subject() {
    let key = TestKey::ed25519("k");
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"jwt_validation_pubkeys": [key.pem()], "bound_issuer": "https://issuer.test"}),
    )
    .await
    .unwrap();
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["a", "coffer"]}),
    )
    .await
    .unwrap();
    h.login("r", &key.sign(&h.claims(json!({"aud": ["x", "coffer"]}))))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(
            h.login(
                "r",
                &key.sign(&h.claims(json!({"iss": "https://evil.test"})))
            )
            .await
        ),
        "error validating token: invalid issuer (iss) claim"
    );
    for aud in [json!("other"), json!(["x", "y"]), Value::Null] {
        assert_eq!(
            invalid_msg(
                h.login("r", &key.sign(&h.claims(json!({ "aud": aud }))))
                    .await
            ),
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
            "{aud}"
        );
    }

    // A role without bound audiences refuses tokens that carry one (OpenBao's rule).
    h.write(
        "role/s",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "user-1"}),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid_msg(h.login("s", &key.sign(&h.claims(json!({})))).await),
        "audience claim found in JWT but no audiences bound to the role"
    );
    h.login("s", &key.sign(&h.claims(json!({"aud": null}))))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(
            h.login(
                "s",
                &key.sign(&h.claims(json!({"aud": null, "sub": "user-2"})))
            )
            .await
        ),
        "error validating token: invalid subject (sub) claim"
    );
}

#[tokio::test]
async fn bound_claims_string_and_glob() {
    let key = TestKey::rsa("k");
    let h = Harness::with_static_keys(&[&key]).await;
    h.write(
        "role/gh",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer",
               "bound_claims_type": "glob",
               "bound_claims": {"repository": "org/*", "ref": ["refs/heads/main", "refs/tags/v*"]}}),
    )
    .await
    .unwrap();
    let ok = [
        json!({"repository": "org/app", "ref": "refs/heads/main"}),
        json!({"repository": "org/", "ref": "refs/tags/v1.2"}),
    ];
    for c in ok {
        h.login("gh", &key.sign(&h.claims(c.clone())))
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let refused = [
        (
            json!({"repository": "other/app", "ref": "refs/heads/main"}),
            "\"repository\" does not match",
        ),
        (
            json!({"repository": "org/app", "ref": "refs/heads/dev"}),
            "\"ref\" does not match",
        ),
        (
            json!({"ref": "refs/heads/main"}),
            "claim \"repository\" is missing",
        ),
    ];
    for (c, want) in refused {
        let msg = invalid_msg(h.login("gh", &key.sign(&h.claims(c))).await);
        assert!(msg.starts_with("error validating claims: "), "{msg}");
        assert!(msg.contains(want), "{msg}");
    }

    // String matching is exact (no wildcard), compares numbers and booleans, and reaches nested claims.
    h.write(
        "role/str",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer",
               "bound_claims": {"repository": "org/*", "/ctx/admin": true, "level": [2, 3]}}),
    )
    .await
    .unwrap();
    assert!(
        invalid_msg(
            h.login(
                "str",
                &key.sign(
                    &h.claims(json!({"repository": "org/app", "ctx": {"admin": true}, "level": 3}))
                )
            )
            .await
        )
        .contains("\"repository\" does not match")
    );
    h.login(
        "str",
        &key.sign(&h.claims(json!({"repository": "org/*", "ctx": {"admin": true}, "level": 3}))),
    )
    .await
    .unwrap();
    assert!(
        invalid_msg(
            h.login(
                "str",
                &key.sign(
                    &h.claims(json!({"repository": "org/*", "ctx": {"admin": false}, "level": 3}))
                )
            )
            .await
        )
        .contains("\"/ctx/admin\" does not match")
    );
}

#[tokio::test]
async fn claim_mappings_user_claim_and_groups() {
    let key = TestKey::p384("k");
    let h = Harness::with_static_keys(&[&key]).await;
    h.write(
        "role/m",
        json!({"role_type": "jwt", "user_claim": "email", "bound_audiences": "coffer",
               "claim_mappings": {"name": "display", "/org/team": "team", "optional": "opt"},
               "groups_claim": "/org/groups"}),
    )
    .await
    .unwrap();
    let c = h.claims(json!({"email": "ann@example.test", "name": "Ann",
                             "org": {"team": "infra", "groups": ["ops", "dev"]}}));
    let auth = h.login("m", &key.sign(&c)).await.unwrap();
    let alias = auth.alias.clone().unwrap();
    assert_eq!(alias.name, "ann@example.test");
    assert_eq!(auth.display_name, "ann@example.test");
    let want: std::collections::BTreeMap<String, String> =
        [("display", "Ann"), ("team", "infra"), ("role", "m")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    assert_eq!(alias.metadata, want);
    assert_eq!(auth.metadata, want);
    assert_eq!(auth.internal["groups"], json!(["ops", "dev"]));

    // A JSON-pointer mapping is required, a plain one optional; the user claim is required and a string.
    let no_team = h.claims(json!({"email": "a@x", "org": {"groups": []}}));
    assert_eq!(
        invalid_msg(h.login("m", &key.sign(&no_team)).await),
        "claim \"/org/team\" not found in token"
    );
    let no_user = h.claims(json!({"org": {"team": "t", "groups": []}}));
    assert_eq!(
        invalid_msg(h.login("m", &key.sign(&no_user)).await),
        "claim \"email\" not found in token"
    );
    let bad_user = h.claims(json!({"email": 5, "org": {"team": "t", "groups": []}}));
    assert_eq!(
        invalid_msg(h.login("m", &key.sign(&bad_user)).await),
        "claim \"email\" could not be converted to string"
    );
    let no_groups = h.claims(json!({"email": "a@x", "org": {"team": "t"}}));
    assert!(
        invalid_msg(h.login("m", &key.sign(&no_groups)).await).contains("claim not found in token")
    );

    // Role validation of mappings.
    assert!(
        invalid_msg(
            h.write("role/m", json!({"claim_mappings": {"x": "role"}}))
                .await
        )
        .contains("is reserved")
    );
}

#[tokio::test]
async fn jwks_url_fetch_rotation_and_rate_limit() {
    let k1 = TestKey::rsa("k1");
    let k2 = TestKey::p256("k2");
    let srv = KeyServer::start(&[&k1]).await;
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": srv.ca_pem}),
    )
    .await
    .unwrap();
    assert_eq!(srv.jwks_hits(), 1, "the write fetched the keys once");
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer"}),
    )
    .await
    .unwrap();
    let c = h.claims(json!({}));
    h.login("r", &k1.sign(&c)).await.unwrap();
    h.login("r", &k1.sign(&c)).await.unwrap();
    assert_eq!(srv.jwks_hits(), 1, "cached");

    // Rotation: the issuer now publishes k2 only. Within 10 s of the last fetch, an unknown kid is refused
    // without fetching.
    srv.set_keys(&[&k2]);
    assert_eq!(invalid_msg(h.login("r", &k2.sign(&c)).await), BAD_SIGNATURE);
    assert_eq!(srv.jwks_hits(), 1);
    h.clock.advance(Duration::from_secs(11));
    let c = h.claims(json!({}));
    h.login("r", &k2.sign(&c)).await.unwrap();
    assert_eq!(srv.jwks_hits(), 2, "the unknown kid triggered one fetch");

    // A burst of unknown kids fetches at most once per 10 s.
    let forged = TestKey::p256("nope");
    for _ in 0..5 {
        assert_eq!(
            invalid_msg(h.login("r", &forged.sign(&c)).await),
            BAD_SIGNATURE
        );
    }
    assert_eq!(srv.jwks_hits(), 2);
    h.clock.advance(Duration::from_secs(11));
    let c = h.claims(json!({}));
    for _ in 0..5 {
        assert_eq!(
            invalid_msg(h.login("r", &forged.sign(&c)).await),
            BAD_SIGNATURE
        );
    }
    assert_eq!(srv.jwks_hits(), 3);

    // k1 was dropped by the issuer and is gone from the cache too.
    assert_eq!(invalid_msg(h.login("r", &k1.sign(&c)).await), BAD_SIGNATURE);
    // A known kid with a bad signature (an impostor key under k2's kid) never triggers a fetch.
    h.clock.advance(Duration::from_secs(11));
    let c = h.claims(json!({}));
    let impostor = TestKey::p256("k2");
    assert_eq!(
        invalid_msg(h.login("r", &impostor.sign(&c)).await),
        BAD_SIGNATURE
    );
    assert_eq!(srv.jwks_hits(), 3);
    h.login("r", &k2.sign(&c)).await.unwrap();
}

#[tokio::test]
async fn removed_keys_stop_working_once_the_cache_ages() {
    let (k1, k2) = (TestKey::ed25519("k1"), TestKey::ed25519("k2"));
    let srv = KeyServer::start(&[&k1, &k2]).await;
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": srv.ca_pem}),
    )
    .await
    .unwrap();
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer"}),
    )
    .await
    .unwrap();
    h.login("r", &k1.sign(&h.claims(json!({})))).await.unwrap();
    srv.set_keys(&[&k2]);
    h.clock.advance(Duration::from_secs(1800));
    h.login("r", &k1.sign(&h.claims(json!({})))).await.unwrap();
    h.clock.advance(Duration::from_secs(1801));
    assert_eq!(
        invalid_msg(h.login("r", &k1.sign(&h.claims(json!({})))).await),
        BAD_SIGNATURE
    );
    h.login("r", &k2.sign(&h.claims(json!({})))).await.unwrap();
    assert_eq!(srv.jwks_hits(), 2);
}

#[tokio::test]
async fn oidc_discovery() {
    let key = TestKey::p256("disc");
    let srv = KeyServer::start(&[&key]).await;
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"oidc_discovery_url": srv.base(), "oidc_discovery_ca_pem": srv.ca_pem,
               "bound_issuer": srv.base(), "default_role": "r"}),
    )
    .await
    .unwrap();
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer"}),
    )
    .await
    .unwrap();
    let c = h.claims(json!({ "iss": srv.base() }));
    // The default role applies when the login names none.
    let resp = h
        .write("login", json!({ "jwt": key.sign(&c) }))
        .await
        .unwrap();
    assert_eq!(resp.auth.unwrap().metadata["role"], "r");
    assert_eq!(
        invalid_msg(h.login("r", &key.sign(&h.claims(json!({})))).await),
        "error validating token: invalid issuer (iss) claim"
    );
    let d = h.read("config").await.unwrap();
    assert_eq!(d["oidc_discovery_url"], json!(srv.base()));
    assert_eq!(d["default_role"], json!("r"));

    // A discovery document naming another issuer is refused at write.
    srv.set_issuer("https://elsewhere.test");
    let msg = invalid_msg(
        h.write(
            "config",
            json!({"oidc_discovery_url": srv.base(), "oidc_discovery_ca_pem": srv.ca_pem}),
        )
        .await,
    );
    assert!(
        msg.starts_with("error checking oidc discovery URL: issuer did not match"),
        "{msg}"
    );
}

#[tokio::test]
async fn config_write_reports_why_keys_cannot_be_fetched() {
    let key = TestKey::rsa("k");
    let srv = KeyServer::start(&[&key]).await;
    let h = Harness::new().await;

    // A CA that did not sign the server's certificate.
    let (other_ca, _) = server::localhost_tls();
    let msg = invalid_msg(
        h.write(
            "config",
            json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": other_ca}),
        )
        .await,
    );
    assert!(msg.starts_with("error checking jwks URL: "), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");

    // No CA at all: the system roots do not know the test CA either.
    let msg = invalid_msg(
        h.write("config", json!({ "jwks_url": srv.jwks_url() }))
            .await,
    );
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");

    let cases = [
        (
            json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": "garbage"}),
            "could not parse CA PEM",
        ),
        (
            json!({"jwks_url": format!("{}/missing", srv.base()), "jwks_ca_pem": srv.ca_pem}),
            "404",
        ),
        (
            json!({"jwks_url": format!("{}/notjson", srv.base()), "jwks_ca_pem": srv.ca_pem}),
            "did not answer JSON",
        ),
        (
            json!({"jwks_url": "ftp://example.test/keys"}),
            "scheme must be http or https",
        ),
        (
            json!({"jwks_url": "https://127.0.0.1:1/keys"}),
            "error checking jwks URL",
        ),
        (
            json!({"jwt_validation_pubkeys": ["not a pem"]}),
            "error parsing public key",
        ),
        (json!({}), "exactly one of"),
    ];
    for (body, want) in cases {
        let msg = invalid_msg(h.write("config", body.clone()).await);
        assert!(msg.contains(want), "{body}: {msg}");
    }
    srv.set_jwks(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
    let msg = invalid_msg(
        h.write(
            "config",
            json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": srv.ca_pem}),
        )
        .await,
    );
    assert!(msg.contains("no usable signing key"), "{msg}");
    assert!(
        matches!(h.read("config").await, Err(EngineError::NotFound)),
        "nothing saved"
    );

    // skip_jwks_validation saves anyway with a warning; logins then fetch when the source is back.
    let resp = h
        .write(
            "config",
            json!({"jwks_url": srv.jwks_url(), "jwks_ca_pem": srv.ca_pem, "skip_jwks_validation": true}),
        )
        .await
        .unwrap();
    assert_eq!(resp.warnings.len(), 1, "{:?}", resp.warnings);
    h.write(
        "role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer"}),
    )
    .await
    .unwrap();
    let t = key.sign(&h.claims(json!({})));
    let hits = srv.jwks_hits();
    assert!(matches!(
        h.login("r", &t).await,
        Err(EngineError::Upstream {
            retryable: true,
            ..
        })
    ));
    srv.set_keys(&[&key]);
    // The failure is remembered for 10 s: no fetch per login while the source is down.
    assert!(matches!(
        h.login("r", &t).await,
        Err(EngineError::Upstream { .. })
    ));
    assert_eq!(srv.jwks_hits(), hits);
    h.clock.advance(Duration::from_secs(11));
    h.login("r", &t).await.unwrap();
    assert_eq!(srv.jwks_hits(), hits + 1);
}

#[tokio::test]
async fn roles_crud_and_refusals() {
    let key = TestKey::rsa("k");
    let h = Harness::with_static_keys(&[&key]).await;
    assert!(
        invalid_msg(
            h.write("role/o", json!({"user_claim": "sub", "bound_subject": "x"}))
                .await
        )
        .contains("role_type \"oidc\" is not supported")
    );
    h.write(
        "role/b",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "policies": "p",
               "ttl": "1h", "bound_claims": {"a": "b"}}),
    )
    .await
    .unwrap();
    let list = h
        .call(Operation::List, "role/", json!({}))
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(list["keys"], json!(["b", "r"]));
    let d = h.read("role/b").await.unwrap();
    assert_eq!(d["role_type"], json!("jwt"));
    assert_eq!(d["policies"], json!(["p"]));
    assert_eq!(d["token_policies"], json!(["p"]));
    assert_eq!(d["ttl"], json!(3600));
    assert_eq!(d["bound_claims"], json!({"a": "b"}));
    assert_eq!(d["expiration_leeway"], json!(150));
    assert_eq!(d["not_before_leeway"], json!(150));
    assert_eq!(d["clock_skew_leeway"], json!(60));
    // An update keeps what it does not name.
    h.write("role/b", json!({"bound_subject": "y"}))
        .await
        .unwrap();
    assert_eq!(h.read("role/b").await.unwrap()["user_claim"], json!("sub"));
    h.call(Operation::Delete, "role/b", json!({}))
        .await
        .unwrap();
    assert!(matches!(h.read("role/b").await, Err(EngineError::NotFound)));

    assert_eq!(
        invalid_msg(h.login("ghost", &key.sign(&h.claims(json!({})))).await),
        "role \"ghost\" could not be found"
    );
    assert_eq!(
        invalid_msg(h.write("login", json!({"jwt": "x"})).await),
        "missing role"
    );
    assert_eq!(
        invalid_msg(h.write("login", json!({"role": "r"})).await),
        "missing token"
    );

    // token_bound_cidrs: 403 from elsewhere.
    h.write("role/r", json!({"token_bound_cidrs": "10.0.0.0/8"}))
        .await
        .unwrap();
    assert!(matches!(
        h.login("r", &key.sign(&h.claims(json!({})))).await,
        Err(EngineError::PermissionDenied)
    ));
    *h.remote.lock().unwrap() = Some("10.1.1.1:3000".parse().unwrap());
    let auth = h.login("r", &key.sign(&h.claims(json!({})))).await.unwrap();
    assert_eq!(auth.bound_cidrs, vec!["10.0.0.0/8"]);
}

#[tokio::test]
async fn renew_rereads_the_role() {
    let key = TestKey::rsa("k");
    let h = Harness::with_static_keys(&[&key]).await;
    let auth = h.login("r", &key.sign(&h.claims(json!({})))).await.unwrap();
    h.write("role/r", json!({"token_ttl": 90, "token_policies": "new"}))
        .await
        .unwrap();
    let lease = |internal: &Map<String, Value>| {
        let internal = internal.clone();
        let h = &h;
        async move {
            h.backend
                .renew(LeaseRequest {
                    lease_id: "auth/jwt/login/h1",
                    kind: "",
                    internal: &internal,
                    increment: None,
                    issue_time: h.clock.now(),
                    storage: &h.view,
                    clock: &h.clock,
                    mount: &h.mount,
                    system: &engine_sdk::testing::NoSystem,
                })
                .await
        }
    };
    let renewed = lease(&auth.internal).await.unwrap().auth.unwrap();
    assert_eq!(renewed.ttl, Duration::from_secs(90));
    assert_eq!(renewed.policies, vec!["new"]);
    h.call(Operation::Delete, "role/r", json!({}))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(lease(&auth.internal).await),
        "role \"r\" does not exist during renewal"
    );
    assert!(matches!(
        lease(&Map::new()).await,
        Err(EngineError::NotRenewable)
    ));
}

#[tokio::test]
async fn oidc_endpoints_answer_400_and_paths_are_sound() {
    let h = Harness::new().await;
    for (op, path) in [
        (Operation::Update, "oidc/auth_url"),
        (Operation::Read, "oidc/callback"),
        (Operation::Update, "oidc/poll"),
    ] {
        let msg = invalid_msg(h.call(op, path, json!({"role": "r"})).await);
        assert!(
            msg.contains("OIDC browser login flow is not supported"),
            "{path}: {msg}"
        );
    }
    assert!(
        invalid_msg(
            h.write(
                "config",
                json!({"jwks_url": "https://a/", "oidc_client_id": "c", "oidc_client_secret": "s"})
            )
            .await
        )
        .contains("browser OIDC login flow")
    );
    assert_eq!(
        invalid_msg(h.write("login", json!({"role": "r", "jwt": "x"})).await),
        "could not load configuration"
    );
    engine_sdk::testing::exercise_engine(h.backend.as_ref());
    assert_eq!(
        h.backend.special_paths().unauthenticated,
        &["login", "oidc/auth_url", "oidc/callback", "oidc/poll"]
    );
}

/// Collects log output for one test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn refusals_are_logged_with_the_reason_and_never_the_token() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let key = TestKey::rsa("k");
    let h = Harness::with_static_keys(&[&key]).await;
    let forged = TestKey::p256("who").sign(&h.claims(json!({})));
    assert_eq!(invalid_msg(h.login("r", &forged).await), BAD_SIGNATURE);
    let expired = key.sign(&h.claims(json!({"exp": unix(&h.clock) - 3600, "iat": 1, "nbf": 1})));
    invalid_msg(h.login("r", &expired).await);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("req-1"), "{text}");
    assert!(text.contains("no key for algorithm ES256"), "{text}");
    assert!(text.contains("token is expired"), "{text}");
    for token in [&forged, &expired] {
        for part in token.split('.') {
            assert!(
                !text.contains(part),
                "a token part leaked into the log: {text}"
            );
        }
    }
}
