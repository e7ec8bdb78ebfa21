//! `status`, and the seal-status output shared with `operator unseal`.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::cli::client::{ApiClient, ApiError};
use crate::cli::format::{key_value_table, to_json};

/// `GET sys/seal-status` (and `sys/unseal`) response, serialized in the vault CLI's JSON order.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct SealStatus {
    #[serde(rename = "type")]
    pub(crate) seal_type: String,
    pub(crate) initialized: bool,
    pub(crate) sealed: bool,
    pub(crate) t: i64,
    pub(crate) n: i64,
    pub(crate) progress: i64,
    pub(crate) nonce: String,
    pub(crate) version: String,
    pub(crate) commit_date: String,
    pub(crate) migration: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) cluster_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) cluster_id: String,
    pub(crate) recovery_seal: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) recovery_seal_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) storage_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
    pub(crate) build_date: String,
}

/// `GET sys/leader` response.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Leader {
    pub(crate) ha_enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) is_self: bool,
    #[serde(skip_serializing_if = "is_zero_time")]
    pub(crate) active_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) leader_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) leader_cluster_address: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) raft_committed_index: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) raft_applied_index: u64,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Go's zero `time.Time` is omitted (`omitzero`).
fn is_zero_time(t: &str) -> bool {
    t.is_empty() || t.starts_with("0001-01-01T00:00:00")
}

/// What `status` prints: the seal status plus the leader fields.
#[derive(Debug, Serialize)]
pub(crate) struct SealStatusOutput {
    #[serde(flatten)]
    pub(crate) seal: SealStatus,
    #[serde(flatten)]
    pub(crate) leader: Leader,
}

impl SealStatusOutput {
    /// The `Key`/`Value` table of `vault status`.
    pub(crate) fn table(&self) -> String {
        let s = &self.seal;
        let l = &self.leader;
        let mut rows: Vec<(String, String)> = vec![("Seal Type".into(), s.seal_type.clone())];
        let share_prefix = if s.recovery_seal {
            rows.push(("Recovery Seal Type".into(), s.recovery_seal_type.clone()));
            "Recovery "
        } else {
            ""
        };
        rows.push(("Initialized".into(), s.initialized.to_string()));
        rows.push(("Sealed".into(), s.sealed.to_string()));
        rows.push((format!("Total {share_prefix}Shares"), s.n.to_string()));
        rows.push(("Threshold".into(), s.t.to_string()));
        if s.sealed {
            rows.push(("Unseal Progress".into(), format!("{}/{}", s.progress, s.t)));
            rows.push(("Unseal Nonce".into(), s.nonce.clone()));
        }
        if s.migration {
            rows.push(("Seal Migration in Progress".into(), "true".into()));
        }
        if !s.version.is_empty() {
            rows.push(("Version".into(), s.version.clone()));
        }
        if !s.commit_date.is_empty() {
            rows.push(("Commit Date".into(), s.commit_date.clone()));
        } else if !s.build_date.is_empty() {
            // Vault servers only send build_date.
            rows.push(("Build Date".into(), s.build_date.clone()));
        }
        if !s.storage_type.is_empty() {
            rows.push(("Storage Type".into(), s.storage_type.clone()));
        }
        if !s.cluster_name.is_empty() && !s.cluster_id.is_empty() {
            rows.push(("Cluster Name".into(), s.cluster_name.clone()));
            rows.push(("Cluster ID".into(), s.cluster_id.clone()));
        }
        rows.push(("HA Enabled".into(), l.ha_enabled.to_string()));
        if l.ha_enabled && !s.sealed {
            rows.push(("HA Cluster".into(), l.leader_cluster_address.clone()));
            rows.push((
                "HA Mode".into(),
                if l.is_self { "active" } else { "standby" }.into(),
            ));
            if l.is_self && !is_zero_time(&l.active_time) {
                rows.push(("Active Since".into(), l.active_time.clone()));
            }
            if !l.is_self && !l.leader_address.is_empty() {
                rows.push(("Active Node Address".into(), l.leader_address.clone()));
            }
        }
        if l.raft_committed_index > 0 {
            rows.push((
                "Raft Committed Index".into(),
                l.raft_committed_index.to_string(),
            ));
        }
        if l.raft_applied_index > 0 {
            rows.push((
                "Raft Applied Index".into(),
                l.raft_applied_index.to_string(),
            ));
        }
        key_value_table(rows)
    }
}

/// Fetch `sys/leader` and combine it with a seal status (a sealed HA node answers "Vault is sealed").
pub(crate) async fn build_output(
    client: &ApiClient,
    seal: SealStatus,
) -> Result<SealStatusOutput, String> {
    let leader = match client
        .call_json::<Leader>(Method::GET, "sys/leader", None)
        .await
    {
        Ok(leader) => leader,
        Err(err) if err.to_string().contains("Vault is sealed") => Leader {
            ha_enabled: true,
            ..Leader::default()
        },
        Err(err) => return Err(format!("Error checking leader status: {err}")),
    };
    Ok(SealStatusOutput { seal, leader })
}

/// Print a seal status (table or JSON) after looking up the leader; 0 on success, 1 if the leader lookup failed.
pub(crate) async fn output_seal_status(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    seal: SealStatus,
) -> i32 {
    match build_output(client, seal).await {
        Ok(output) => {
            let text = if ctx.json() {
                to_json(&output)
            } else {
                output.table()
            };
            ctx.io.out(&text);
            0
        }
        Err(message) => {
            ctx.io.err(&message);
            1
        }
    }
}

/// `GET sys/seal-status`.
pub(crate) async fn seal_status(client: &ApiClient) -> Result<SealStatus, ApiError> {
    client.call_json(Method::GET, "sys/seal-status", None).await
}

/// `status`: exit 0 unsealed, 2 sealed, 1 on any error (2 is reserved for "sealed").
pub(crate) async fn status(ctx: &mut Ctx<'_, '_>) -> i32 {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(err) => {
            ctx.io.err(&err.to_string());
            return 1;
        }
    };
    let seal = match seal_status(&client).await {
        Ok(seal) => seal,
        Err(err) => {
            ctx.io.err(&format!("Error checking seal status: {err}"));
            return 1;
        }
    };
    let sealed = seal.sealed;
    let code = output_seal_status(ctx, &client, seal).await;
    if sealed { 2 } else { code }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output(seal: serde_json::Value, leader: serde_json::Value) -> SealStatusOutput {
        SealStatusOutput {
            seal: serde_json::from_value(seal).unwrap(),
            leader: serde_json::from_value(leader).unwrap(),
        }
    }

    #[test]
    fn sealed_table_and_json_match_bao() {
        let out = output(
            json!({"type": "shamir", "initialized": false, "sealed": true, "t": 0, "n": 0, "progress": 0, "nonce": "",
                   "version": "2.7.2", "commit_date": "2026-10-26T20:32:27Z", "migration": false, "recovery_seal": false,
                   "storage_type": "raft"}),
            json!({"ha_enabled": true}),
        );
        assert_eq!(
            out.table(),
            "Key                Value\n---                -----\nSeal Type          shamir\nInitialized        false\nSealed             true\n\
             Total Shares       0\nThreshold          0\nUnseal Progress    0/0\nUnseal Nonce       n/a\nVersion            2.7.2\n\
             Commit Date        2026-10-26T20:32:27Z\nStorage Type       raft\nHA Enabled         true"
        );
        assert_eq!(
            to_json(&out),
            "{\n  \"type\": \"shamir\",\n  \"initialized\": false,\n  \"sealed\": true,\n  \"t\": 0,\n  \"n\": 0,\n  \"progress\": 0,\n  \
             \"nonce\": \"\",\n  \"version\": \"2.7.2\",\n  \"commit_date\": \"2026-10-26T20:32:27Z\",\n  \"migration\": false,\n  \
             \"recovery_seal\": false,\n  \"storage_type\": \"raft\",\n  \"build_date\": \"\",\n  \"ha_enabled\": true\n}"
        );
    }

    #[test]
    fn active_ha_rows() {
        let out = output(
            json!({"type": "shamir", "initialized": true, "sealed": false, "t": 2, "n": 3, "version": "2.7.2",
                   "storage_type": "raft", "cluster_name": "c", "cluster_id": "id"}),
            json!({"ha_enabled": true, "is_self": true, "active_time": "2026-11-22T02:23:56.729957791Z",
                   "leader_address": "http://a:8200", "leader_cluster_address": "https://a:8201",
                   "raft_committed_index": 29, "raft_applied_index": 29}),
        );
        let table = out.table();
        assert!(table.contains("\nHA Cluster              https://a:8201\nHA Mode                 active\nActive Since            2026-11-22T02:23:56.729957791Z\nRaft Committed Index    29\nRaft Applied Index      29"), "{table}");
        assert!(!table.contains("Unseal Progress"));
        let standby = output(
            json!({"sealed": false, "cluster_name": "c", "cluster_id": "id"}),
            json!({"ha_enabled": true, "is_self": false, "active_time": "0001-01-01T00:00:00Z", "leader_address": "http://a:8200"}),
        );
        assert!(
            standby
                .table()
                .contains("HA Mode                standby\nActive Node Address    http://a:8200")
        );
        assert!(!to_json(&standby).contains("active_time"));
    }
}
