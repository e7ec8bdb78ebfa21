//! `role/{role_name}/<field>`: one setting of a role read, set or reset on its own path, so ACLs can delegate it.

use engine_sdk::{EngineError, Field, FieldKind, Operation, PathSpec, Request, Response};
use serde_json::{Map, Value, json};

use crate::backend::{ApproleBackend, role_name, spec};
use crate::role::{RoleEntry, has};
use crate::{ApproleError, role};

/// A role setting with its own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleField {
    /// `policies` (`token_policies` and the deprecated `policies`).
    Policies,
    /// `secret-id-num-uses`.
    SecretIdNumUses,
    /// `secret-id-ttl`.
    SecretIdTtl,
    /// `token-ttl`.
    TokenTtl,
    /// `token-max-ttl`.
    TokenMaxTtl,
    /// `token-num-uses`.
    TokenNumUses,
    /// `bind-secret-id`.
    BindSecretId,
    /// `secret-id-bound-cidrs`.
    SecretIdBoundCidrs,
    /// `bound-cidr-list` (deprecated name of the above).
    BoundCidrList,
    /// `token-bound-cidrs`.
    TokenBoundCidrs,
    /// `period` (`token_period` and the deprecated `period`).
    Period,
    /// `local-secret-ids` (read only).
    LocalSecretIds,
}

const ROLE_NAME: Field = Field {
    name: "role_name",
    kind: FieldKind::String,
    help: "Name of the role.",
};

const fn fields2(name: &'static str, kind: FieldKind, help: &'static str) -> [Field; 2] {
    [ROLE_NAME, Field { name, kind, help }]
}

const F_POLICIES: &[Field] = &[
    ROLE_NAME,
    Field {
        name: "token_policies",
        kind: FieldKind::CommaStrings,
        help: "Policies attached to generated tokens.",
    },
    Field {
        name: "policies",
        kind: FieldKind::CommaStrings,
        help: "Deprecated: use token_policies.",
    },
];
const F_PERIOD: &[Field] = &[
    ROLE_NAME,
    Field {
        name: "token_period",
        kind: FieldKind::Duration,
        help: "If set, generated tokens are periodic with this period.",
    },
    Field {
        name: "period",
        kind: FieldKind::Duration,
        help: "Deprecated: use token_period.",
    },
];
const F_NUM_USES: &[Field] = &fields2(
    "secret_id_num_uses",
    FieldKind::Int,
    "Default number of logins per secret ID; 0 means unlimited.",
);
const F_SECRET_TTL: &[Field] = &fields2(
    "secret_id_ttl",
    FieldKind::Duration,
    "Default life of a secret ID; 0 means it never expires.",
);
const F_TOKEN_TTL: &[Field] = &fields2(
    "token_ttl",
    FieldKind::Duration,
    "The initial TTL of generated tokens.",
);
const F_TOKEN_MAX_TTL: &[Field] = &fields2(
    "token_max_ttl",
    FieldKind::Duration,
    "The maximum lifetime of generated tokens.",
);
const F_TOKEN_NUM_USES: &[Field] = &fields2(
    "token_num_uses",
    FieldKind::Int,
    "Uses allowed per generated token; 0 means unlimited.",
);
const F_BIND: &[Field] = &fields2(
    "bind_secret_id",
    FieldKind::Bool,
    "Require a secret_id at login.",
);
const F_SECRET_CIDRS: &[Field] = &fields2(
    "secret_id_bound_cidrs",
    FieldKind::CommaStrings,
    "CIDR blocks a login must come from.",
);
const F_CIDR_LIST: &[Field] = &fields2(
    "bound_cidr_list",
    FieldKind::CommaStrings,
    "Deprecated: use secret_id_bound_cidrs.",
);
const F_TOKEN_CIDRS: &[Field] = &fields2(
    "token_bound_cidrs",
    FieldKind::CommaStrings,
    "CIDR blocks the generated tokens may be used from.",
);
const F_LOCAL: &[Field] = &[ROLE_NAME];

const RUD: &[Operation] = &[Operation::Read, Operation::Update, Operation::Delete];
const READ: &[Operation] = &[Operation::Read];

impl RoleField {
    /// Every field path.
    pub(crate) const ALL: [RoleField; 12] = [
        RoleField::Policies,
        RoleField::SecretIdNumUses,
        RoleField::SecretIdTtl,
        RoleField::TokenTtl,
        RoleField::TokenMaxTtl,
        RoleField::TokenNumUses,
        RoleField::BindSecretId,
        RoleField::SecretIdBoundCidrs,
        RoleField::BoundCidrList,
        RoleField::TokenBoundCidrs,
        RoleField::Period,
        RoleField::LocalSecretIds,
    ];

    /// The path pattern.
    pub(crate) const fn pattern(self) -> &'static str {
        match self {
            RoleField::Policies => "role/{role_name}/policies",
            RoleField::SecretIdNumUses => "role/{role_name}/secret-id-num-uses",
            RoleField::SecretIdTtl => "role/{role_name}/secret-id-ttl",
            RoleField::TokenTtl => "role/{role_name}/token-ttl",
            RoleField::TokenMaxTtl => "role/{role_name}/token-max-ttl",
            RoleField::TokenNumUses => "role/{role_name}/token-num-uses",
            RoleField::BindSecretId => "role/{role_name}/bind-secret-id",
            RoleField::SecretIdBoundCidrs => "role/{role_name}/secret-id-bound-cidrs",
            RoleField::BoundCidrList => "role/{role_name}/bound-cidr-list",
            RoleField::TokenBoundCidrs => "role/{role_name}/token-bound-cidrs",
            RoleField::Period => "role/{role_name}/period",
            RoleField::LocalSecretIds => "role/{role_name}/local-secret-ids",
        }
    }

    /// The path-table entry.
    pub(crate) const fn spec(self) -> PathSpec {
        let (ops, fields, help) = match self {
            RoleField::Policies => (RUD, F_POLICIES, "Manage the token policies of a role."),
            RoleField::SecretIdNumUses => (
                RUD,
                F_NUM_USES,
                "Manage the default use count of a role's secret IDs.",
            ),
            RoleField::SecretIdTtl => (
                RUD,
                F_SECRET_TTL,
                "Manage the default TTL of a role's secret IDs.",
            ),
            RoleField::TokenTtl => (RUD, F_TOKEN_TTL, "Manage the token TTL of a role."),
            RoleField::TokenMaxTtl => (RUD, F_TOKEN_MAX_TTL, "Manage the token max TTL of a role."),
            RoleField::TokenNumUses => (
                RUD,
                F_TOKEN_NUM_USES,
                "Manage the token use count of a role.",
            ),
            RoleField::BindSecretId => (RUD, F_BIND, "Manage whether a role requires a secret ID."),
            RoleField::SecretIdBoundCidrs => (
                RUD,
                F_SECRET_CIDRS,
                "Manage the CIDR blocks a role's logins must come from.",
            ),
            RoleField::BoundCidrList => {
                (RUD, F_CIDR_LIST, "Deprecated: use secret-id-bound-cidrs.")
            }
            RoleField::TokenBoundCidrs => (
                RUD,
                F_TOKEN_CIDRS,
                "Manage the CIDR blocks a role's tokens may be used from.",
            ),
            RoleField::Period => (RUD, F_PERIOD, "Manage the token period of a role."),
            RoleField::LocalSecretIds => (
                READ,
                F_LOCAL,
                "Read whether a role's secret IDs are cluster-local.",
            ),
        };
        spec(self.pattern(), ops, fields, help)
    }

    /// The field whose path is `pattern`.
    pub(crate) fn from_pattern(pattern: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.pattern() == pattern)
    }

    /// The operations served.
    pub(crate) fn ops(self) -> &'static [Operation] {
        self.spec().ops
    }

    /// The request keys this path accepts, preferred first.
    fn inputs(self) -> &'static [&'static str] {
        match self {
            RoleField::Policies => &["token_policies", "policies"],
            RoleField::Period => &["token_period", "period"],
            RoleField::SecretIdNumUses => &["secret_id_num_uses"],
            RoleField::SecretIdTtl => &["secret_id_ttl"],
            RoleField::TokenTtl => &["token_ttl"],
            RoleField::TokenMaxTtl => &["token_max_ttl"],
            RoleField::TokenNumUses => &["token_num_uses"],
            RoleField::BindSecretId => &["bind_secret_id"],
            RoleField::SecretIdBoundCidrs => &["secret_id_bound_cidrs"],
            RoleField::BoundCidrList => &["bound_cidr_list"],
            RoleField::TokenBoundCidrs => &["token_bound_cidrs"],
            RoleField::LocalSecretIds => &[],
        }
    }

    /// The read response.
    fn read(self, r: &RoleEntry) -> (Map<String, Value>, Option<&'static str>) {
        let mut m = Map::new();
        let mut warning = None;
        match self {
            RoleField::Policies => {
                m.insert("token_policies".into(), json!(r.token.token_policies));
                if !r.policies.is_empty() {
                    m.insert("policies".into(), json!(r.policies));
                }
            }
            RoleField::Period => {
                m.insert("token_period".into(), json!(r.token.token_period));
                if r.period > 0 {
                    m.insert("period".into(), json!(r.period));
                }
            }
            RoleField::SecretIdNumUses => {
                m.insert("secret_id_num_uses".into(), json!(r.secret_id_num_uses));
            }
            RoleField::SecretIdTtl => {
                m.insert("secret_id_ttl".into(), json!(r.secret_id_ttl));
            }
            RoleField::TokenTtl => {
                m.insert("token_ttl".into(), json!(r.token.token_ttl));
            }
            RoleField::TokenMaxTtl => {
                m.insert("token_max_ttl".into(), json!(r.token.token_max_ttl));
            }
            RoleField::TokenNumUses => {
                m.insert("token_num_uses".into(), json!(r.token.token_num_uses));
            }
            RoleField::BindSecretId => {
                m.insert("bind_secret_id".into(), json!(r.bind_secret_id));
            }
            RoleField::SecretIdBoundCidrs => {
                m.insert(
                    "secret_id_bound_cidrs".into(),
                    json!(r.secret_id_bound_cidrs),
                );
            }
            RoleField::BoundCidrList => {
                m.insert("bound_cidr_list".into(), json!(r.secret_id_bound_cidrs));
                warning = Some(
                    "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.",
                );
            }
            RoleField::TokenBoundCidrs => {
                m.insert("token_bound_cidrs".into(), json!(r.token.token_bound_cidrs));
            }
            RoleField::LocalSecretIds => {
                m.insert("local_secret_ids".into(), json!(r.local_secret_ids));
            }
        }
        (m, warning)
    }

    /// Puts the setting back to its default.
    fn reset(self, r: &mut RoleEntry) {
        match self {
            RoleField::Policies => {
                r.token.token_policies.clear();
                r.policies.clear();
            }
            RoleField::Period => {
                r.token.token_period = 0;
                r.period = 0;
            }
            RoleField::SecretIdNumUses => r.secret_id_num_uses = 0,
            RoleField::SecretIdTtl => r.secret_id_ttl = 0,
            RoleField::TokenTtl => r.token.token_ttl = 0,
            RoleField::TokenMaxTtl => r.token.token_max_ttl = 0,
            RoleField::TokenNumUses => r.token.token_num_uses = 0,
            RoleField::BindSecretId => r.bind_secret_id = true,
            RoleField::SecretIdBoundCidrs | RoleField::BoundCidrList => {
                r.secret_id_bound_cidrs.clear();
            }
            RoleField::TokenBoundCidrs => {
                r.token.token_bound_cidrs.clear();
                r.bound_cidrs.clear();
            }
            RoleField::LocalSecretIds => {}
        }
    }
}

/// Serves a field path.
pub(crate) async fn handle(
    backend: &ApproleBackend,
    req: &Request<'_>,
    field: RoleField,
) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    match req.operation {
        Operation::Read => {
            let entry = role::load(req.storage, &name)
                .await?
                .ok_or(EngineError::NotFound)?;
            let (data, warning) = field.read(&entry);
            let resp = Response::data(data);
            Ok(match warning {
                Some(w) => resp.warn(w),
                None => resp,
            })
        }
        Operation::Update => update(backend, req, field, &name).await,
        Operation::Delete => {
            let _guard = backend.role_lock.write().await;
            let Some(mut entry) = role::load(req.storage, &name).await? else {
                return Ok(Response::default());
            };
            field.reset(&mut entry);
            entry.token.validate()?;
            entry.check_constraints()?;
            role::save(req.storage, &name, &mut entry).await?;
            Ok(Response::default())
        }
        _ => Err(EngineError::UnsupportedOperation.into()),
    }
}

async fn update(
    backend: &ApproleBackend,
    req: &Request<'_>,
    field: RoleField,
    name: &str,
) -> Result<Response, ApproleError> {
    let inputs = field.inputs();
    let Some(first) = inputs.first() else {
        return Err(EngineError::UnsupportedOperation.into());
    };
    if !inputs.iter().any(|k| has(req.data, k)) {
        return Err(ApproleError::invalid(format!("missing {first}")));
    }
    if matches!(
        field,
        RoleField::SecretIdBoundCidrs | RoleField::BoundCidrList
    ) && engine_sdk::field::strings(req.data, first)?.is_none_or(|c| c.is_empty())
    {
        return Err(ApproleError::invalid("missing bound_cidr_list"));
    }
    // Only this path's keys reach the role, whatever else the body carries.
    let only: Map<String, Value> = inputs
        .iter()
        .filter_map(|k| req.data.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();

    let _guard = backend.role_lock.write().await;
    let Some(mut entry) = role::load(req.storage, name).await? else {
        return Err(EngineError::UnsupportedPath(req.path.to_owned()).into());
    };
    let warnings = entry.apply(&only, false, req.mount.max_lease_ttl)?;
    role::save(req.storage, name, &mut entry).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}
