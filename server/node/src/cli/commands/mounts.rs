//! What `secrets` and `auth` share: mount flags, request bodies, and the mount tables.

use std::collections::BTreeMap;

use clap::Args;
use clap::builder::BoolishValueParser;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Ctx;
use super::policy::expect_args;
use super::sanitize_path;
use super::token::{pairs_object, parse_key_value};
use crate::cli::args::GoDuration;
use crate::cli::client::ApiClient;
use crate::cli::format::table;

/// Mount configuration flags of `enable` and `tune`.
#[derive(Debug, Clone, Args)]
pub struct ConfigFlags {
    /// Default lease TTL.
    #[arg(long = "default-lease-ttl", value_parser = GoDuration::parse, default_value = "0", allow_hyphen_values = true)]
    pub default_lease_ttl: GoDuration,
    /// Maximum lease TTL.
    #[arg(long = "max-lease-ttl", value_parser = GoDuration::parse, default_value = "0", allow_hyphen_values = true)]
    pub max_lease_ttl: GoDuration,
    /// Request keys not HMAC'd by audit devices (repeatable).
    #[arg(long = "audit-non-hmac-request-keys")]
    pub audit_non_hmac_request_keys: Vec<String>,
    /// Response keys not HMAC'd by audit devices (repeatable).
    #[arg(long = "audit-non-hmac-response-keys")]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// `unauth` or `hidden`.
    #[arg(long = "listing-visibility")]
    pub listing_visibility: Option<String>,
    /// Request headers passed to the backend (repeatable).
    #[arg(long = "passthrough-request-headers")]
    pub passthrough_request_headers: Vec<String>,
    /// Response headers the backend may set (repeatable).
    #[arg(long = "allowed-response-headers")]
    pub allowed_response_headers: Vec<String>,
    /// Mount option `key=value` (repeatable).
    #[arg(long, value_parser = parse_key_value)]
    pub options: Vec<(String, String)>,
    /// Shorthand for `-options=version=<n>`.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub version: i64,
}

/// Flags of `enable` common to secrets engines and auth methods.
#[derive(Debug, Clone, Args)]
pub struct EnableFlags {
    /// Human-friendly description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Mount path (defaults to the type).
    #[arg(long, default_value = "")]
    pub path: String,
    /// Plugin name when TYPE is `plugin`.
    #[arg(long = "plugin-name", default_value = "")]
    pub plugin_name: String,
    /// Do not replicate the mount.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub local: bool,
    /// Seal-wrap the mount's critical values.
    #[arg(long = "seal-wrap", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub seal_wrap: bool,
    /// Give the plugin access to the external entropy source.
    #[arg(long = "external-entropy-access", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub external_entropy_access: bool,
    /// Configuration flags.
    #[command(flatten)]
    pub config: ConfigFlags,
}

/// Vault's `ensureTrailingSlash` (trims whitespace; empty stays empty).
pub(crate) fn ensure_trailing_slash(path: &str) -> String {
    let trimmed = path.trim();
    if trimmed.is_empty() || trimmed.ends_with('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/")
    }
}

/// The `options` map: nil (JSON null) unless `-options` or `-version` was given.
fn options_value(config: &ConfigFlags) -> Value {
    let mut options = pairs_object(&config.options);
    if config.version > 0 {
        options.insert("version".into(), config.version.to_string().into());
    }
    if config.options.is_empty() && config.version <= 0 {
        Value::Null
    } else {
        Value::Object(options)
    }
}

/// The list-valued and string-valued config fields vault only sends when set.
fn optional_config(config: &ConfigFlags, out: &mut Map<String, Value>) {
    let lists = [
        (
            "audit_non_hmac_request_keys",
            &config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &config.audit_non_hmac_response_keys,
        ),
    ];
    for (key, list) in lists {
        if !list.is_empty() {
            out.insert(key.into(), list.clone().into());
        }
    }
    if let Some(visibility) = config
        .listing_visibility
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        out.insert("listing_visibility".into(), visibility.into());
    }
    let lists = [
        (
            "passthrough_request_headers",
            &config.passthrough_request_headers,
        ),
        ("allowed_response_headers", &config.allowed_response_headers),
    ];
    for (key, list) in lists {
        if !list.is_empty() {
            out.insert(key.into(), list.clone().into());
        }
    }
}

/// The body of `POST sys/mounts/<path>` or `sys/auth/<path>` (vault's `MountInput`).
pub(crate) fn enable_body(
    flags: &EnableFlags,
    engine_type: &str,
    force_no_cache: bool,
    token_type: Option<&str>,
) -> Value {
    let mut config = Map::new();
    config.insert("options".into(), Value::Null);
    config.insert(
        "default_lease_ttl".into(),
        flags.config.default_lease_ttl.go_string().into(),
    );
    config.insert(
        "max_lease_ttl".into(),
        flags.config.max_lease_ttl.go_string().into(),
    );
    config.insert("force_no_cache".into(), force_no_cache.into());
    optional_config(&flags.config, &mut config);
    if let Some(token_type) = token_type.filter(|t| !t.is_empty()) {
        config.insert("token_type".into(), token_type.into());
    }
    json!({
        "type": engine_type,
        "description": flags.description,
        "config": config,
        "local": flags.local,
        "seal_wrap": flags.seal_wrap,
        "external_entropy_access": flags.external_entropy_access,
        "options": options_value(&flags.config),
    })
}

/// Vault's `ttlToAPI`: 0 → "", negative → "system", else the Go duration.
fn ttl_to_api(ttl: GoDuration) -> String {
    match ttl.0 {
        0 => String::new(),
        n if n < 0 => "system".to_owned(),
        _ => ttl.go_string(),
    }
}

/// The body of `POST sys/mounts/<path>/tune` (vault's `MountConfigInput`).
pub(crate) fn tune_body(
    config: &ConfigFlags,
    description: Option<&str>,
    token_type: Option<&str>,
) -> Value {
    let mut body = Map::new();
    body.insert("options".into(), options_value(config));
    body.insert(
        "default_lease_ttl".into(),
        ttl_to_api(config.default_lease_ttl).into(),
    );
    if let Some(description) = description {
        body.insert("description".into(), description.into());
    }
    body.insert(
        "max_lease_ttl".into(),
        ttl_to_api(config.max_lease_ttl).into(),
    );
    body.insert("force_no_cache".into(), false.into());
    optional_config(config, &mut body);
    if let Some(token_type) = token_type.filter(|t| !t.is_empty()) {
        body.insert("token_type".into(), token_type.into());
    }
    Value::Object(body)
}

/// `POST <path>` with a JSON body, ignoring the response body.
pub(crate) async fn post(client: &ApiClient, path: &str, body: &Value) -> Result<(), String> {
    client
        .call(Method::POST, path, &[], Some(body))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One mount of `GET sys/mounts` / `sys/auth`, in vault's `MountOutput` field order.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct MountOutput {
    uuid: String,
    #[serde(rename = "type")]
    mount_type: String,
    description: String,
    accessor: String,
    config: MountConfigOutput,
    options: Option<BTreeMap<String, String>>,
    local: bool,
    seal_wrap: bool,
    external_entropy_access: bool,
    plugin_version: String,
    running_plugin_version: String,
    running_sha256: String,
    deprecation_status: String,
}

/// A mount's configuration, in vault's `MountConfigOutput` field order.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct MountConfigOutput {
    default_lease_ttl: i64,
    max_lease_ttl: i64,
    force_no_cache: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audit_non_hmac_request_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audit_non_hmac_response_keys: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    listing_visibility: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    passthrough_request_headers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_response_headers: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    token_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_managed_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_lockout_config: Option<UserLockoutConfigOutput>,
}

/// Vault's `UserLockoutConfigOutput` (every field omitted when zero).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct UserLockoutConfigOutput {
    #[serde(skip_serializing_if = "is_zero")]
    lockout_threshold: u64,
    #[serde(skip_serializing_if = "is_zero_i")]
    lockout_duration: i64,
    #[serde(skip_serializing_if = "is_zero_i")]
    lockout_counter_reset: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_lockout: Option<bool>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero_i(n: &i64) -> bool {
    *n == 0
}

/// Which list command a table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountKind {
    /// `secrets list`.
    Secrets,
    /// `auth list`.
    Auth,
}

impl MountKind {
    /// The API prefix of the mount table (`sys/mounts/` or `sys/auth/`).
    fn api(self) -> &'static str {
        match self {
            MountKind::Secrets => "sys/mounts/",
            MountKind::Auth => "sys/auth/",
        }
    }

    /// The tune endpoint prefix (auth methods are tuned through `sys/mounts/auth/`, as the vault CLI does).
    fn tune_api(self) -> &'static str {
        match self {
            MountKind::Secrets => "sys/mounts/",
            MountKind::Auth => "sys/mounts/auth/",
        }
    }

    /// What the CLI calls the mounted thing.
    fn noun(self) -> &'static str {
        match self {
            MountKind::Secrets => "secrets engine",
            MountKind::Auth => "auth method",
        }
    }
}

/// `secrets disable PATH` / `auth disable PATH`.
pub(crate) async fn disable(ctx: &mut Ctx<'_, '_>, kind: MountKind, args: &[String]) -> i32 {
    if let Err(message) = expect_args(args, 1) {
        return ctx.usage(&message);
    }
    let path = ensure_trailing_slash(&sanitize_path(args.first().map_or("", String::as_str)));
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let noun = kind.noun();
    if let Err(err) = client
        .call(Method::DELETE, &format!("{}{path}", kind.api()), &[], None)
        .await
    {
        return ctx.fail(&format!("Error disabling {noun} at {path}"), &err);
    }
    ctx.io.out(&format!(
        "Success! Disabled the {noun} (if it existed) at: {path}"
    ));
    0
}

/// `secrets tune PATH` / `auth tune PATH`.
pub(crate) async fn tune(
    ctx: &mut Ctx<'_, '_>,
    kind: MountKind,
    config: &ConfigFlags,
    description: Option<&str>,
    token_type: Option<&str>,
    args: &[String],
) -> i32 {
    if let Err(message) = expect_args(args, 1) {
        return ctx.usage(&message);
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let path = ensure_trailing_slash(&sanitize_path(args.first().map_or("", String::as_str)));
    let body = tune_body(config, description, token_type);
    let noun = kind.noun();
    if let Err(message) = post(&client, &format!("{}{path}/tune", kind.tune_api()), &body).await {
        ctx.io
            .err(&format!("Error tuning {noun} {path}: {message}"));
        return 2;
    }
    ctx.io.out(&format!("Success! Tuned the {noun} at: {path}"));
    0
}

/// Go's `%v` of a `map[string]string`.
fn go_map(options: Option<&BTreeMap<String, String>>) -> String {
    let inner: Vec<String> = options
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("map[{}]", inner.join(" "))
}

/// The `-detailed` TTL cell: empty for system/cubbyhole, `system` for 0, else seconds.
fn ttl_cell(mount_type: &str, ttl: i64) -> String {
    match (mount_type, ttl) {
        ("system" | "cubbyhole", _) => String::new(),
        (_, 0) => "system".to_owned(),
        (_, ttl) => ttl.to_string(),
    }
}

/// The mount tables of `secrets list` and `auth list` (plain or `-detailed`).
pub(crate) fn mounts_table(
    mounts: &BTreeMap<String, MountOutput>,
    kind: MountKind,
    detailed: bool,
) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (path, m) in mounts {
        let row = if detailed {
            let middle = match kind {
                MountKind::Secrets => m.config.force_no_cache.to_string(),
                MountKind::Auth => m.config.token_type.clone(),
            };
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                ttl_cell(&m.mount_type, m.config.default_lease_ttl),
                ttl_cell(&m.mount_type, m.config.max_lease_ttl),
                middle,
                if m.local { "local" } else { "replicated" }.to_owned(),
                m.seal_wrap.to_string(),
                m.external_entropy_access.to_string(),
                go_map(m.options.as_ref()),
                m.description.clone(),
                m.uuid.clone(),
                m.plugin_version.clone(),
                m.running_plugin_version.clone(),
                m.running_sha256.clone(),
                m.deprecation_status.clone(),
            ]
        } else {
            let mut row = vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                m.description.clone(),
            ];
            if kind == MountKind::Auth {
                row.push(m.plugin_version.clone());
            }
            row
        };
        rows.push(row);
    }
    let header: &[&str] = match (detailed, kind) {
        (false, MountKind::Secrets) => &["Path", "Type", "Accessor", "Description"],
        (false, MountKind::Auth) => &["Path", "Type", "Accessor", "Description", "Version"],
        (true, MountKind::Secrets) => &[
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Force No Cache",
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ],
        (true, MountKind::Auth) => &[
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Token Type",
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ],
    };
    table(header, rows)
}

/// `GET sys/mounts` or `sys/auth` as typed mounts.
pub(crate) async fn list_mounts(
    client: &ApiClient,
    path: &str,
) -> Result<BTreeMap<String, MountOutput>, String> {
    let secret = client
        .call_secret(Method::GET, path, &[])
        .await
        .map_err(|e| e.to_string())?;
    let data = secret
        .and_then(|s| s.data.clone())
        .ok_or_else(|| "data from server response is empty".to_owned())?;
    data.into_iter()
        .map(|(k, v)| {
            serde_json::from_value::<MountOutput>(v)
                .map(|m| (k, m))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Print `secrets list` / `auth list`.
pub(crate) async fn list(
    ctx: &mut Ctx<'_, '_>,
    kind: MountKind,
    detailed: bool,
    args: &[String],
) -> i32 {
    if !args.is_empty() {
        return ctx.usage(&format!(
            "Too many arguments (expected 0, got {})",
            args.len()
        ));
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let (path, what) = match kind {
        MountKind::Secrets => ("sys/mounts", "Error listing secrets engines"),
        MountKind::Auth => ("sys/auth", "Error listing enabled authentications"),
    };
    let mounts = match list_mounts(&client, path).await {
        Ok(mounts) => mounts,
        Err(message) => {
            ctx.io.err(&format!("{what}: {message}"));
            return 2;
        }
    };
    if ctx.json() {
        return ctx.print_json(&mounts);
    }
    ctx.io.out(&mounts_table(&mounts, kind, detailed));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConfigFlags {
        ConfigFlags {
            default_lease_ttl: GoDuration::default(),
            max_lease_ttl: GoDuration::default(),
            audit_non_hmac_request_keys: Vec::new(),
            audit_non_hmac_response_keys: Vec::new(),
            listing_visibility: None,
            passthrough_request_headers: Vec::new(),
            allowed_response_headers: Vec::new(),
            options: Vec::new(),
            version: 0,
        }
    }

    #[test]
    fn enable_and_tune_bodies() {
        let mut flags = EnableFlags {
            description: "d".into(),
            path: String::new(),
            plugin_name: String::new(),
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            config: config(),
        };
        flags.config.default_lease_ttl = GoDuration::parse("1h").unwrap();
        flags.config.version = 2;
        assert_eq!(
            enable_body(&flags, "kv", false, None),
            json!({"type": "kv", "description": "d", "local": false, "seal_wrap": false,
                   "external_entropy_access": false, "options": {"version": "2"},
                   "config": {"options": null, "default_lease_ttl": "1h0m0s", "max_lease_ttl": "0s",
                              "force_no_cache": false}})
        );
        let mut tune = config();
        tune.max_lease_ttl = GoDuration::parse("system").unwrap();
        tune.passthrough_request_headers = vec!["X-A".into()];
        assert_eq!(
            tune_body(&tune, Some("new"), Some("batch")),
            json!({"options": null, "default_lease_ttl": "", "description": "new", "max_lease_ttl": "system",
                   "force_no_cache": false, "passthrough_request_headers": ["X-A"], "token_type": "batch"})
        );
        assert_eq!(ensure_trailing_slash(" kv "), "kv/");
        assert_eq!(ensure_trailing_slash("kv/"), "kv/");
        assert_eq!(ensure_trailing_slash(""), "");
    }

    #[test]
    fn mount_tables_match_bao() {
        let mounts: BTreeMap<String, MountOutput> = serde_json::from_value(json!({
            "secret/": {"uuid": "c9e7b8e9-6610-8224-fff9-82160f4ae5d7", "type": "kv", "description": "key/value secret storage",
                        "accessor": "kv_6debe950", "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false},
                        "options": {"version": "2"}, "local": false, "seal_wrap": false, "external_entropy_access": false,
                        "plugin_version": "", "running_plugin_version": "v2.7.2+builtin.bao", "running_sha256": "",
                        "deprecation_status": "supported"},
            "cubbyhole/": {"uuid": "477f0b68-6f47-1ce1-b237-b91fd31e450b", "type": "cubbyhole",
                           "description": "per-token private secret storage", "accessor": "cubbyhole_956e6ad2",
                           "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false},
                           "options": null, "local": true, "seal_wrap": false, "external_entropy_access": false,
                           "plugin_version": "", "running_plugin_version": "v2.7.2+builtin.bao", "running_sha256": "",
                           "deprecation_status": ""}
        }))
        .unwrap();
        assert_eq!(
            mounts_table(&mounts, MountKind::Secrets, false),
            "Path          Type         Accessor              Description\n\
             ----          ----         --------              -----------\n\
             cubbyhole/    cubbyhole    cubbyhole_956e6ad2    per-token private secret storage\n\
             secret/       kv           kv_6debe950           key/value secret storage"
        );
        let detailed = mounts_table(&mounts, MountKind::Secrets, true);
        assert!(detailed.contains("\ncubbyhole/    cubbyhole    cubbyhole_956e6ad2    n/a            n/a        false             local          false        false                      map[]             per-token private secret storage    477f0b68-6f47-1ce1-b237-b91fd31e450b    n/a        v2.7.2+builtin.bao    n/a               n/a\n"), "{detailed}");
        assert!(detailed.ends_with("map[version:2]    key/value secret storage            c9e7b8e9-6610-8224-fff9-82160f4ae5d7    n/a        v2.7.2+builtin.bao    n/a               supported"), "{detailed}");
        let json = crate::cli::format::to_json(&mounts);
        assert!(json.starts_with("{\n  \"cubbyhole/\": {\n    \"uuid\": \"477f0b68-6f47-1ce1-b237-b91fd31e450b\",\n    \"type\": \"cubbyhole\",\n"), "{json}");
        assert!(json.contains("\"config\": {\n      \"default_lease_ttl\": 0,\n      \"max_lease_ttl\": 0,\n      \"force_no_cache\": false\n    },\n    \"options\": null,"), "{json}");
    }
}
