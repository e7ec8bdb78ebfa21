use std::collections::BTreeMap;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use engine_sdk::{Auth, MountInfo};

use super::*;
use crate::entry::TokenType;
use crate::testutil::{all_keys, store, t};
use crate::ttl::TtlLimits;

const H: u64 = 3600;

fn limits() -> TtlLimits {
    TtlLimits {
        default_ttl: Duration::from_secs(H),
        max_ttl: Duration::from_secs(4 * H),
    }
}

fn req(now: u64) -> CreateToken<'static> {
    CreateToken::new(t(now), limits())
}

async fn child_of(s: &TokenStore, parent: &Created, now: u64) -> Created {
    s.create(CreateToken {
        parent: Some(Parent {
            key: &parent.key,
            entry: &parent.entry,
        }),
        policies: vec!["web".into()],
        ..req(now)
    })
    .await
    .unwrap()
}

async fn root_created(s: &TokenStore) -> Created {
    let (token, entry) = s.create_root(None, 1).await.unwrap();
    let key = s.key_of(&token).await.unwrap();
    Created {
        token,
        key,
        entry,
        warnings: Vec::new(),
    }
}

#[tokio::test]
async fn root_token_round_trip_and_revoke() {
    let (s, _) = store();
    let (token, entry) = s.create_root(None, 1).await.unwrap();
    assert!(token.starts_with("s.") && token.len() == 26);
    assert!(entry.is_root() && entry.orphan() && entry.expire_time == 0);
    assert_eq!(s.lookup(&token).await.unwrap(), Some(entry));
    assert_eq!(s.lookup("s.nope").await.unwrap(), None);
    assert_eq!(s.lookup("").await.unwrap(), None);
    // Non-expiring root tokens never expire, whatever the time.
    assert!(
        s.check(&token, t(u64::MAX / 2), None)
            .await
            .unwrap()
            .is_some()
    );
    s.revoke(&token).await.unwrap();
    assert_eq!(s.lookup(&token).await.unwrap(), None);
}

#[tokio::test]
async fn chosen_id_and_duplicates() {
    let (s, _) = store();
    s.create_root(Some("root"), 1).await.unwrap();
    assert!(s.lookup("root").await.unwrap().is_some());
    assert!(matches!(
        s.create_root(Some("root"), 1).await,
        Err(TokenError::InvalidRequest(_))
    ));
    assert!(matches!(
        s.create_root(Some(" "), 1).await,
        Err(TokenError::InvalidRequest(_))
    ));
    // Through create, chosen ids follow OpenBao's rules.
    for (id, msg) in [
        ("s.abc", "custom token ID cannot have the 's.' prefix"),
        ("hvs.abc", "custom token ID cannot have the 'hvs.' prefix"),
        ("a.b", "custom token ID cannot have a '.' in the value"),
        ("root", "cannot create a token with a duplicate ID"),
    ] {
        let err = s
            .create(CreateToken {
                id: Some(id),
                ..req(1)
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), msg);
    }
    let c = s
        .create(CreateToken {
            id: Some("my-token"),
            ..req(1)
        })
        .await
        .unwrap();
    assert_eq!(c.token.as_str(), "my-token");
    // lookup() uses the real clock, long after this token expired.
    assert!(s.lookup("my-token").await.unwrap().is_none());
    assert!(s.check("my-token", t(2), None).await.unwrap().is_some());
}

#[tokio::test]
async fn create_defaults_and_expiry() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            policies: vec!["Web".into(), "web".into()],
            ..req(100)
        })
        .await
        .unwrap();
    assert!(c.token.starts_with("s.") && c.token.len() == 26);
    assert_eq!(c.entry.policies, vec!["default", "web"]);
    assert_eq!((c.entry.ttl, c.entry.expire_time), (H, 100 + H));
    assert!(c.entry.renewable && c.entry.orphan());
    assert_eq!(c.entry.accessor.len(), 24);
    assert_eq!(c.key, s.key_of(&c.token).await.unwrap());
    let at = |secs| s.check(&c.token, t(secs), None);
    assert!(at(100 + H - 1).await.unwrap().is_some());
    assert!(at(100 + H).await.unwrap().is_none());
    // no_default_policy strips default even when asked for explicitly.
    let c = s
        .create(CreateToken {
            policies: vec!["default".into(), "a".into()],
            no_default_policy: true,
            ..req(100)
        })
        .await
        .unwrap();
    assert_eq!(c.entry.policies, vec!["a"]);
    let err = s
        .create(CreateToken {
            policies: vec!["response-wrapping".into()],
            ..req(100)
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot assign policy \"response-wrapping\""
    );
}

#[tokio::test]
async fn ttl_capped_with_warning() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            ttl: Duration::from_secs(12 * H),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!(c.entry.ttl, 4 * H);
    assert_eq!(
        c.warnings,
        vec![
            "TTL of \"12h\" exceeded the effective max_ttl of \"4h\"; TTL value is capped accordingly"
        ]
    );
    // A backend max (role, auth method) tighter than the mount's applies too.
    let c = s
        .create(CreateToken {
            max_ttl: Duration::from_secs(30 * 60),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!(c.entry.ttl, 30 * 60);
    assert_eq!(c.warnings.len(), 1);
}

#[tokio::test]
async fn explicit_max_caps_creation_and_renewal() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            explicit_max_ttl: Duration::from_secs(2 * H),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!((c.entry.ttl, c.entry.explicit_max_ttl), (H, 2 * H));
    let r = s
        .renew(&c.key, Duration::from_secs(3 * H), t(H / 2), limits())
        .await
        .unwrap();
    assert_eq!(r.ttl, Duration::from_secs(2 * H - H / 2));
    assert_eq!(r.entry.expire_time, 2 * H);
    assert!(r.warnings[0].contains("exceeded the effective max_ttl of \"1h30m\""));
    let err = s
        .renew(&c.key, Duration::ZERO, t(2 * H - 1), limits())
        .await
        .unwrap();
    assert_eq!(err.ttl, Duration::from_secs(1));
    let err = s
        .renew(&c.key, Duration::ZERO, t(2 * H + 5), limits())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "lease expired");
}

#[tokio::test]
async fn renewal_arithmetic() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            ttl: Duration::from_secs(600),
            ..req(0)
        })
        .await
        .unwrap();
    // The increment counts from now, not from the old expiry.
    let r = s
        .renew(&c.key, Duration::from_secs(300), t(500), limits())
        .await
        .unwrap();
    assert_eq!((r.ttl.as_secs(), r.entry.expire_time), (300, 800));
    assert_eq!(r.entry.last_renewal_time, 500);
    // Without an increment the last granted TTL is granted again.
    let r = s
        .renew(&c.key, Duration::ZERO, t(700), limits())
        .await
        .unwrap();
    assert_eq!(r.entry.expire_time, 1000);
    // Capped by the mount max from creation.
    let r = s
        .renew(&c.key, Duration::from_secs(10 * H), t(900), limits())
        .await
        .unwrap();
    assert_eq!(r.entry.expire_time, 4 * H);
    assert_eq!(r.warnings.len(), 1);
    // Creation TTL is what lookups report as creation_ttl; it never moves.
    assert_eq!(r.entry.ttl, 600);

    let fixed = s
        .create(CreateToken {
            renewable: false,
            ..req(0)
        })
        .await
        .unwrap();
    let err = s
        .renew(&fixed.key, Duration::ZERO, t(1), limits())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "lease is not renewable");
    let root = root_created(&s).await;
    let err = s
        .renew(&root.key, Duration::ZERO, t(1), limits())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "lease is not renewable");
    let err = s
        .renew("nope", Duration::ZERO, t(1), limits())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "token not found");
}

#[tokio::test]
async fn periodic_tokens_renew_to_their_period_forever() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            period: Duration::from_secs(1800),
            ttl: Duration::from_secs(60),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!(c.entry.ttl, 1800);
    let mut now = 0;
    // Far past the mount's 4h max, renewals keep granting the period.
    for _ in 0..20 {
        now += 1700;
        let r = s
            .renew(&c.key, Duration::from_secs(5), t(now), limits())
            .await
            .unwrap();
        assert_eq!(r.ttl.as_secs(), 1800);
        assert!(r.warnings.is_empty());
    }
    assert!(now > 4 * H);
    assert!(
        s.check(&c.token, t(now + 1799), None)
            .await
            .unwrap()
            .is_some()
    );
    // A period above the max is capped, with OpenBao's warning.
    let c = s
        .create(CreateToken {
            period: Duration::from_secs(10 * H),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!(c.entry.ttl, 4 * H);
    assert!(
        c.warnings[0].starts_with("period of \"10h\" exceeded the effective max_ttl of \"4h\"")
    );
}

#[tokio::test]
async fn children_revoked_with_parent() {
    let (s, _) = store();
    let revoked = Arc::new(StdMutex::new(Vec::<String>::new()));
    struct Record(Arc<StdMutex<Vec<String>>>);
    #[async_trait::async_trait]
    impl RevokeHook for Record {
        async fn token_revoked(&self, key: &str) -> Result<(), TokenError> {
            self.0.lock().unwrap().push(key.to_owned());
            Ok(())
        }
    }
    s.set_revoke_hook(Arc::new(Record(revoked.clone())));
    let root = root_created(&s).await;
    let a = child_of(&s, &root, 1).await;
    let b = child_of(&s, &a, 1).await;
    let c = child_of(&s, &b, 1).await;
    let sibling = child_of(&s, &root, 1).await;
    let orphan = s.create(req(1)).await.unwrap();
    assert_eq!(b.entry.parent, a.key);
    assert!(!b.entry.orphan());

    s.revoke_tree(&a.key).await.unwrap();
    for gone in [&a, &b, &c] {
        assert!(s.lookup_by_key(&gone.key).await.unwrap().is_none());
        assert!(
            s.lookup_by_accessor(&gone.entry.accessor)
                .await
                .unwrap()
                .is_none()
        );
    }
    for kept in [&root, &sibling, &orphan] {
        assert!(s.lookup_by_key(&kept.key).await.unwrap().is_some());
    }
    // Children before parents, every one through the hook.
    assert_eq!(
        *revoked.lock().unwrap(),
        vec![c.key.clone(), b.key.clone(), a.key.clone()]
    );
    // Nothing of the revoked subtree is left in the children index.
    assert!(s.children(&a.key).await.unwrap().is_empty());
    assert_eq!(
        s.children(&root.key).await.unwrap(),
        vec![sibling.key.clone()]
    );

    // A revoked parent cannot get new children.
    let err = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &a.key,
                entry: &a.entry,
            }),
            ..req(1)
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "parent token not found");
}

#[tokio::test]
async fn revoke_orphan_keeps_children() {
    let (s, _) = store();
    let root = root_created(&s).await;
    let a = child_of(&s, &root, 1).await;
    let b = child_of(&s, &a, 1).await;
    let c = child_of(&s, &b, 1).await;
    assert!(s.revoke_orphan(&a.key).await.unwrap());
    assert!(!s.revoke_orphan(&a.key).await.unwrap());
    assert!(s.lookup_by_key(&a.key).await.unwrap().is_none());
    let b_now = s.lookup_by_key(&b.key).await.unwrap().unwrap();
    assert!(b_now.orphan());
    assert!(s.check(&b.token, t(2), None).await.unwrap().is_some());
    // The grandchild still hangs off b.
    assert_eq!(
        s.lookup_by_key(&c.key).await.unwrap().unwrap().parent,
        b.key
    );
    s.revoke_tree(&root.key).await.unwrap();
    assert!(s.lookup_by_key(&b.key).await.unwrap().is_some());
}

#[tokio::test]
async fn num_uses_exhaustion() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            num_uses: 2,
            ..req(0)
        })
        .await
        .unwrap();
    let first = s.check(&c.token, t(1), None).await.unwrap().unwrap();
    assert_eq!((first.num_uses, first.revocation_pending), (1, false));
    let last = s.check(&c.token, t(2), None).await.unwrap().unwrap();
    assert!(last.revocation_pending);
    // Used up: unusable even before the core revokes it, but still visible to the token's own request.
    assert!(s.check(&c.token, t(3), None).await.unwrap().is_none());
    assert!(s.lookup(&c.token).await.unwrap().is_none());
    assert!(s.lookup_tainted(&c.token, t(3)).await.unwrap().is_some());
    // Limited-use tokens cannot create children.
    let err = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &c.key,
                entry: &first,
            }),
            ..req(1)
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "restricted use token cannot generate child tokens"
    );
    s.revoke_tree(&c.key).await.unwrap();
    assert!(s.lookup_tainted(&c.token, t(3)).await.unwrap().is_none());
}

#[tokio::test]
async fn bound_cidrs() {
    let (s, _) = store();
    let c = s
        .create(CreateToken {
            bound_cidrs: vec!["10.0.0.0/8".into()],
            ..req(0)
        })
        .await
        .unwrap();
    let inside = Some("10.1.2.3".parse().unwrap());
    let outside = Some("192.168.0.1".parse().unwrap());
    assert!(s.check(&c.token, t(1), inside).await.unwrap().is_some());
    assert!(s.check(&c.token, t(1), outside).await.unwrap().is_none());
    assert!(s.check(&c.token, t(1), None).await.unwrap().is_none());
    let err = s
        .create(CreateToken {
            bound_cidrs: vec!["10.0.0.0/99".into()],
            ..req(0)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid CIDR"));
}

#[tokio::test]
async fn batch_tokens_round_trip_without_storage() {
    let (s, plain) = store();
    let root = root_created(&s).await;
    s.batch_key().await.unwrap();
    let before = all_keys(&plain).await;
    let b = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &root.key,
                entry: &root.entry,
            }),
            token_type: TokenType::Batch,
            policies: vec!["web".into()],
            meta: BTreeMap::from([("app".to_owned(), "x".to_owned())]),
            ..req(10)
        })
        .await
        .unwrap();
    assert_eq!(
        all_keys(&plain).await,
        before,
        "batch tokens are not stored"
    );
    assert!(b.token.starts_with("b."));
    assert!(b.entry.accessor.is_empty() && !b.entry.renewable);
    let e = s.check(&b.token, t(11), None).await.unwrap().unwrap();
    assert_eq!(e.policies, vec!["default", "web"]);
    assert_eq!(e.meta.get("app").map(String::as_str), Some("x"));
    assert_eq!(
        (e.token_type, e.parent.as_str()),
        (TokenType::Batch, root.key.as_str())
    );
    assert_eq!(e.expire_time, 10 + H);
    assert!(s.check(&b.token, t(10 + H), None).await.unwrap().is_none());
    // A forged or altered batch token is just unknown.
    let forged = format!("{}x", b.token.as_str());
    assert!(s.check(&forged, t(11), None).await.unwrap().is_none());

    // Restrictions.
    let err = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &b.key,
                entry: &e,
            }),
            ..req(11)
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "batch tokens cannot create more tokens");
    for (bad, name) in [
        (
            CreateToken {
                period: Duration::from_secs(60),
                ..req(0)
            },
            "period",
        ),
        (
            CreateToken {
                num_uses: 1,
                ..req(0)
            },
            "num_uses",
        ),
        (
            CreateToken {
                explicit_max_ttl: Duration::from_secs(60),
                ..req(0)
            },
            "explicit_max_ttl",
        ),
    ] {
        let err = s
            .create(CreateToken {
                token_type: TokenType::Batch,
                ..bad
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("batch tokens cannot have \"{name}\" set")
        );
    }
    let err = s
        .create(CreateToken {
            token_type: TokenType::Batch,
            policies: vec!["root".into()],
            ..req(0)
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "batch tokens cannot be root tokens");
    // Not stored, so not renewable by key; revoking is a no-op.
    assert!(
        s.renew(&b.key, Duration::ZERO, t(11), limits())
            .await
            .is_err()
    );
    s.revoke(&b.token).await.unwrap();
    assert!(s.check(&b.token, t(11), None).await.unwrap().is_some());
    // Revoking the parent invalidates the batch child.
    s.revoke_tree(&root.key).await.unwrap();
    assert!(s.check(&b.token, t(11), None).await.unwrap().is_none());
    // The key survives a restart (a new store over the same storage).
    let again = TokenStore::new(View::new(plain.clone(), "sys/token/"));
    let orphan = s
        .create(CreateToken {
            token_type: TokenType::Batch,
            ..req(10)
        })
        .await
        .unwrap();
    assert!(
        again
            .check(&orphan.token, t(11), None)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn root_rules() {
    let (s, _) = store();
    let web = s.create(req(0)).await.unwrap();
    let err = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &web.key,
                entry: &web.entry,
            }),
            policies: vec!["root".into()],
            ..req(0)
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "root tokens may not be created without parent token being root"
    );
    // An expiring root cannot mint a non-expiring root.
    let root = root_created(&s).await;
    let expiring = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &root.key,
                entry: &root.entry,
            }),
            policies: vec!["root".into()],
            ttl: Duration::from_secs(60),
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!(expiring.entry.ttl, 60);
    let err = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &expiring.key,
                entry: &expiring.entry,
            }),
            policies: vec!["root".into()],
            ..req(0)
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "expiring root tokens cannot create non-expiring root tokens"
    );
    let forever = s
        .create(CreateToken {
            parent: Some(Parent {
                key: &root.key,
                entry: &root.entry,
            }),
            policies: vec!["root".into()],
            bound_cidrs: vec!["10.0.0.0/8".into()],
            ..req(0)
        })
        .await
        .unwrap();
    assert_eq!((forever.entry.ttl, forever.entry.renewable), (0, false));
    assert!(forever.entry.bound_cidrs.is_empty());
}

#[tokio::test]
async fn accessors() {
    let (s, _) = store();
    let root = root_created(&s).await;
    let a = child_of(&s, &root, 1).await;
    let b = child_of(&s, &a, 1).await;
    let (key, entry) = s
        .lookup_by_accessor(&a.entry.accessor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (key, entry.policies),
        (a.key.clone(), vec!["default".into(), "web".into()])
    );
    assert!(s.lookup_by_accessor("nope").await.unwrap().is_none());
    // The root token never expires, so the real-clock lookup sees it.
    assert!(
        s.lookup_accessor(&root.entry.accessor)
            .await
            .unwrap()
            .unwrap()
            .is_root()
    );
    assert!(s.lookup_by_accessor("").await.unwrap().is_none());
    let mut all = vec![
        root.entry.accessor.clone(),
        a.entry.accessor.clone(),
        b.entry.accessor.clone(),
    ];
    all.sort();
    assert_eq!(s.list_accessors().await.unwrap(), all);
    assert!(s.revoke_by_accessor(&a.entry.accessor).await.unwrap());
    assert!(!s.revoke_by_accessor(&a.entry.accessor).await.unwrap());
    assert!(s.lookup_by_key(&b.key).await.unwrap().is_none());
    assert_eq!(
        s.list_accessors().await.unwrap(),
        vec![root.entry.accessor.clone()]
    );
}

#[tokio::test]
async fn failing_hook_leaves_token_unusable_and_retryable() {
    let (s, _) = store();
    struct Fail;
    #[async_trait::async_trait]
    impl RevokeHook for Fail {
        async fn token_revoked(&self, _key: &str) -> Result<(), TokenError> {
            Err(TokenError::Hook("lease backend down".into()))
        }
    }
    let c = s.create(req(0)).await.unwrap();
    s.set_revoke_hook(Arc::new(Fail));
    assert!(s.revoke_tree(&c.key).await.is_err());
    assert!(s.check(&c.token, t(1), None).await.unwrap().is_none());
    assert!(s.lookup_by_key(&c.key).await.unwrap().is_some());
    s.set_revoke_hook(Arc::new(NoopHook));
    // Tidy finishes what the failed revocation started.
    let report = s.tidy(t(1)).await.unwrap();
    assert_eq!(report.tokens_revoked, 1);
    assert!(s.lookup_by_key(&c.key).await.unwrap().is_none());
}

#[tokio::test]
async fn tidy_cleans_indexes() {
    let (s, _) = store();
    let root = root_created(&s).await;
    let a = child_of(&s, &root, 1).await;
    let b = child_of(&s, &a, 1).await;
    let expired = s
        .create(CreateToken {
            ttl: Duration::from_secs(10),
            ..req(0)
        })
        .await
        .unwrap();
    // Simulate a crash that left a's entry gone but its index entries behind.
    s.view()
        .delete(&format!("{}{}", paths::ID_PREFIX, a.key))
        .await
        .unwrap();
    let report = s.tidy(t(100)).await.unwrap();
    assert_eq!(
        report,
        TidyReport {
            orphaned: 1,
            parent_entries_removed: 2,
            accessors_removed: 1,
            tokens_revoked: 1,
        }
    );
    assert!(s.lookup_by_key(&b.key).await.unwrap().unwrap().orphan());
    assert!(s.lookup_by_key(&expired.key).await.unwrap().is_none());
    assert!(
        s.lookup_by_accessor(&a.entry.accessor)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.tidy(t(100)).await.unwrap(), TidyReport::default());
}

#[tokio::test]
async fn login_tokens() {
    let (s, _) = store();
    let auth = Auth {
        display_name: "bob".into(),
        policies: vec!["dev".into()],
        ttl: Duration::from_secs(600),
        renewable: true,
        ..Auth::default()
    };
    let mount = MountInfo {
        path: "auth/userpass/".into(),
        default_lease_ttl: Duration::from_secs(H),
        max_lease_ttl: Duration::from_secs(2 * H),
        ..MountInfo::default()
    };
    let c = s.create_for_login(&auth, &mount, t(0)).await.unwrap();
    assert_eq!(c.entry.display_name, "userpass-bob");
    assert_eq!(c.entry.path, "auth/userpass/login");
    assert_eq!(c.entry.policies, vec!["default", "dev"]);
    assert!(c.entry.orphan() && c.entry.renewable);
    assert_eq!(c.entry.ttl, 600);
    let batch = s
        .create_for_login(
            &Auth {
                token_type: "batch".into(),
                ..auth
            },
            &mount,
            t(0),
        )
        .await
        .unwrap();
    assert!(batch.token.starts_with("b."));
}

#[tokio::test]
async fn keys_never_hold_tokens_or_accessors() {
    let (s, plain) = store();
    let (rt, re) = s.create_root(Some("devroot"), 1).await.unwrap();
    let root = Created {
        key: s.key_of(&rt).await.unwrap(),
        token: rt,
        entry: re,
        warnings: Vec::new(),
    };
    let a = child_of(&s, &root, 1).await;
    let b = child_of(&s, &a, 1).await;
    let custom = s
        .create(CreateToken {
            id: Some("customid"),
            ..req(1)
        })
        .await
        .unwrap();
    let batch = s
        .create(CreateToken {
            token_type: TokenType::Batch,
            ..req(1)
        })
        .await
        .unwrap();
    s.put_role(&crate::Role::new("r1")).await.unwrap();
    let keys = all_keys(&plain).await;
    assert!(keys.iter().any(|k| k.starts_with("sys/token/parent/")));
    for created in [&root, &a, &b, &custom, &batch] {
        for k in &keys {
            assert!(!k.contains(created.token.as_str()), "{k}");
            if !created.entry.accessor.is_empty() {
                assert!(!k.contains(&created.entry.accessor), "{k}");
            }
        }
    }
}
