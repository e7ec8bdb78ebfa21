//! Token creation: OpenBao's rules for policies, types, parents and TTLs.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use engine_sdk::{Auth, MountInfo};
use zeroize::Zeroizing;

use super::{TOKEN_LENGTH, TokenStore, new_service_token, random_nonce, random_string};
use crate::entry::{ENTRY_VERSION, TokenEntry, TokenType};
use crate::policies::{NON_ASSIGNABLE, sanitize};
use crate::ttl::{self, TtlInput, TtlLimits};
use crate::{TokenError, cidr, unix};

/// The token creating a child, with its key.
#[derive(Debug, Clone, Copy)]
pub struct Parent<'a> {
    /// The parent's salted hash.
    pub key: &'a str,
    /// The parent's entry.
    pub entry: &'a TokenEntry,
}

/// Everything a new token is made from. Policies are final except for `default` (added unless
/// `no_default_policy` or root) and sanitising.
#[derive(Debug, Clone)]
pub struct CreateToken<'a> {
    /// The creating token; checked (batch and limited-use tokens cannot create children, only root creates
    /// root), and linked as parent unless `orphan`.
    pub parent: Option<Parent<'a>>,
    /// Policies.
    pub policies: Vec<String>,
    /// Strip `default` instead of adding it.
    pub no_default_policy: bool,
    /// Metadata.
    pub meta: BTreeMap<String, String>,
    /// Display name, already prefixed (`token-x`, `userpass-bob`).
    pub display_name: String,
    /// Requested TTL (0 = the mount default).
    pub ttl: Duration,
    /// A backend or role cap tighter than the mount's max (0 = none).
    pub max_ttl: Duration,
    /// Hard cap from creation (0 = none).
    pub explicit_max_ttl: Duration,
    /// Periodic token period (0 = not periodic).
    pub period: Duration,
    /// Uses (0 = unlimited).
    pub num_uses: u32,
    /// Whether renewals are allowed.
    pub renewable: bool,
    /// Service or batch.
    pub token_type: TokenType,
    /// A chosen token id (service tokens; the caller checks it may choose one).
    pub id: Option<&'a str>,
    /// Identity entity.
    pub entity_id: String,
    /// CIDR blocks.
    pub bound_cidrs: Vec<String>,
    /// Creation path (`auth/token/create`, `auth/userpass/login/bob`).
    pub path: String,
    /// Token role name, or empty.
    pub role: String,
    /// Do not link the token to `parent`.
    pub orphan: bool,
    /// Allows the policies no client may request (`response-wrapping`): set only by the core for the
    /// wrapping tokens it creates itself.
    pub internal_policies: bool,
    /// The mount's TTL settings.
    pub limits: TtlLimits,
    /// Creation time.
    pub now: SystemTime,
}

impl CreateToken<'_> {
    /// A request with OpenBao's defaults: service, renewable, display name `token`, path `auth/token/create`.
    pub fn new(now: SystemTime, limits: TtlLimits) -> Self {
        Self {
            parent: None,
            policies: Vec::new(),
            no_default_policy: false,
            meta: BTreeMap::new(),
            display_name: "token".into(),
            ttl: Duration::ZERO,
            max_ttl: Duration::ZERO,
            explicit_max_ttl: Duration::ZERO,
            period: Duration::ZERO,
            num_uses: 0,
            renewable: true,
            token_type: TokenType::Service,
            id: None,
            entity_id: String::new(),
            bound_cidrs: Vec::new(),
            path: "auth/token/create".into(),
            role: String::new(),
            orphan: false,
            internal_policies: false,
            limits,
            now,
        }
    }

    /// The token a successful login through `mount` gets (orphan, as every login token). Display name is the
    /// mount path with dashes plus the method's name (`userpass-bob`). The path defaults to `<mount>login`;
    /// set it to the request path for OpenBao's exact lease prefixes.
    pub fn for_login(auth: &Auth, mount: &MountInfo, now: SystemTime) -> Self {
        let source = mount
            .path
            .strip_prefix("auth/")
            .unwrap_or(&mount.path)
            .replace('/', "-");
        let display = format!("{source}{}", auth.display_name);
        let token_type = match auth.token_type.as_str() {
            "batch" | "default-batch" => TokenType::Batch,
            _ => TokenType::Service,
        };
        Self {
            policies: auth.policies.clone(),
            no_default_policy: auth.no_default_policy,
            meta: auth.metadata.clone(),
            display_name: display.trim_end_matches('-').to_owned(),
            ttl: auth.ttl,
            max_ttl: auth.max_ttl,
            explicit_max_ttl: auth.explicit_max_ttl,
            period: auth.period,
            num_uses: auth.num_uses,
            renewable: auth.renewable,
            token_type,
            bound_cidrs: auth.bound_cidrs.clone(),
            path: format!("{}login", mount.path),
            orphan: true,
            ..Self::new(now, TtlLimits::of_mount(mount))
        }
    }
}

/// A new token.
pub struct Created {
    /// The token itself: given to the client once, stored nowhere.
    pub token: Zeroizing<String>,
    /// Its salted hash.
    pub key: String,
    /// Its entry.
    pub entry: TokenEntry,
    /// OpenBao's warnings (TTL capped, ...).
    pub warnings: Vec<String>,
}

// The token is a credential.
impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("entry", &self.entry)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    /// Creates a token. Service tokens are `s.` + 24 base62 characters (or the chosen id) and are stored under
    /// their salted hash; batch tokens are `b.` + an encrypted entry and are not stored.
    pub async fn create(&self, req: CreateToken<'_>) -> Result<Created, TokenError> {
        let now = unix(req.now);
        let mut warnings = Vec::new();
        if let Some(p) = req.parent {
            if p.entry.is_batch() {
                return Err(TokenError::invalid(
                    "batch tokens cannot create more tokens",
                ));
            }
            if p.entry.num_uses > 0 || p.entry.revocation_pending {
                return Err(TokenError::invalid(
                    "restricted use token cannot generate child tokens",
                ));
            }
        }
        let batch = req.token_type == TokenType::Batch;
        if batch {
            let bad = if !req.explicit_max_ttl.is_zero() {
                Some("explicit_max_ttl")
            } else if req.num_uses != 0 {
                Some("num_uses")
            } else if !req.period.is_zero() {
                Some("period")
            } else {
                None
            };
            if let Some(bad) = bad {
                return Err(TokenError::invalid(format!(
                    "batch tokens cannot have {bad:?} set"
                )));
            }
        }

        let mut policies = sanitize(&req.policies, !req.no_default_policy);
        if req.no_default_policy {
            policies.retain(|p| p != "default");
        }
        if let Some(p) = policies
            .iter()
            .filter(|_| !req.internal_policies)
            .find(|p| NON_ASSIGNABLE.contains(&p.as_str()))
        {
            return Err(TokenError::invalid(format!("cannot assign policy {p:?}")));
        }
        let root = policies.iter().any(|p| p == "root");
        if root {
            if req.parent.is_some_and(|p| !p.entry.is_root()) {
                return Err(TokenError::invalid(
                    "root tokens may not be created without parent token being root",
                ));
            }
            if batch {
                return Err(TokenError::invalid("batch tokens cannot be root tokens"));
            }
        }
        let mut bound_cidrs = cidr::validate(&req.bound_cidrs)?;

        let explicit_max_ttl = req.explicit_max_ttl.as_secs();
        let period = req.period.as_secs();
        let mut ttl = req.ttl.as_secs();
        // Only non-periodic root tokens without a TTL escape the computation (they never expire).
        if period > 0 || ttl > 0 || !root {
            let (t, w) = ttl::calculate(
                &req.limits,
                TtlInput {
                    backend_ttl: ttl,
                    period,
                    backend_max_ttl: req.max_ttl.as_secs(),
                    explicit_max_ttl,
                    start: now,
                    now,
                    ..TtlInput::default()
                },
            )?;
            ttl = t;
            warnings.extend(w);
        }
        if ttl == 0 && explicit_max_ttl > 0 {
            ttl = explicit_max_ttl;
        }
        let mut renewable = req.renewable && !batch;
        if ttl == 0 {
            if req.parent.is_some_and(|p| p.entry.ttl != 0) {
                return Err(TokenError::invalid(
                    "expiring root tokens cannot create non-expiring root tokens",
                ));
            }
            // Non-expiring tokens cannot be renewed, and OpenBao does not CIDR-bind them.
            renewable = false;
            bound_cidrs.clear();
        }

        let parent = match req.parent {
            Some(p) if !req.orphan => p.key.to_owned(),
            _ => String::new(),
        };
        let entry = TokenEntry {
            v: ENTRY_VERSION,
            accessor: if batch {
                String::new()
            } else {
                random_string(TOKEN_LENGTH)?
            },
            parent,
            policies,
            meta: req.meta,
            display_name: req.display_name,
            num_uses: req.num_uses,
            creation_time: now,
            ttl,
            expire_time: if ttl == 0 { 0 } else { now.saturating_add(ttl) },
            lease_ttl: ttl,
            last_renewal_time: 0,
            explicit_max_ttl,
            period,
            renewable,
            path: req.path,
            token_type: req.token_type,
            entity_id: req.entity_id,
            bound_cidrs,
            role: req.role,
            revocation_pending: false,
        };

        if batch {
            let token = Zeroizing::new(self.batch_key().await?.seal(&entry, random_nonce()?)?);
            let key = self.key_of(&token).await?;
            return Ok(Created {
                token,
                key,
                entry,
                warnings,
            });
        }
        let (token, chosen) = match req.id.filter(|id| !id.is_empty()) {
            Some(id) => {
                check_custom_id(id)?;
                (Zeroizing::new(id.to_owned()), true)
            }
            None => (new_service_token()?, false),
        };
        let key = self.insert_service(&token, &entry, chosen).await?;
        Ok(Created {
            token,
            key,
            entry,
            warnings,
        })
    }

    /// Creates the token for a successful login through `mount` ([`CreateToken::for_login`]).
    pub async fn create_for_login(
        &self,
        auth: &Auth,
        mount: &MountInfo,
        now: SystemTime,
    ) -> Result<Created, TokenError> {
        self.create(CreateToken::for_login(auth, mount, now)).await
    }
}

/// OpenBao's rules for chosen ids: no generated-token prefixes, no dots.
fn check_custom_id(id: &str) -> Result<(), TokenError> {
    if id.starts_with("hvs.") {
        return Err(TokenError::invalid(
            "custom token ID cannot have the 'hvs.' prefix",
        ));
    }
    if id.starts_with("s.") {
        return Err(TokenError::invalid(
            "custom token ID cannot have the 's.' prefix",
        ));
    }
    if id.contains('.') {
        return Err(TokenError::invalid(
            "custom token ID cannot have a '.' in the value",
        ));
    }
    Ok(())
}
