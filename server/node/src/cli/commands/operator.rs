//! `operator init | unseal | seal | step-down | key-status | rotate`.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

use super::Ctx;
use super::status::{SealStatus, output_seal_status, seal_status};
use crate::cli::args::OperatorCmd;
use crate::cli::client::{ApiClient, ApiError};
use crate::cli::format::{columns, rfc822_utc, to_json, wrap_at_length};

/// Run an operator subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: OperatorCmd) -> i32 {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(err) => {
            ctx.io.err(&err.to_string());
            return 2;
        }
    };
    match cmd {
        OperatorCmd::Init {
            key_shares,
            key_threshold,
            recovery_shares,
            recovery_threshold,
            status,
        } => {
            let shares = Shares {
                key_shares,
                key_threshold,
                recovery_shares,
                recovery_threshold,
            };
            init(ctx, &client, shares, status).await
        }
        OperatorCmd::Unseal { key, reset } => {
            unseal(ctx, &client, key.map(Zeroizing::new), reset).await
        }
        OperatorCmd::Seal => match client.call(Method::PUT, "sys/seal", &[], None).await {
            Ok(_) => {
                ctx.io.out("Success! Vault is sealed.");
                0
            }
            Err(err) => fail(ctx, "Error sealing", &err),
        },
        OperatorCmd::StepDown => match client.call(Method::PUT, "sys/step-down", &[], None).await {
            Ok(_) => {
                ctx.io
                    .out(&format!("Success! Stepped down: {}", client.address()));
                0
            }
            Err(err) => fail(ctx, "Error stepping down", &err),
        },
        OperatorCmd::KeyStatus => match key_status(&client).await {
            Ok(status) => {
                let text = if ctx.json() {
                    to_json(&status)
                } else {
                    status.table()
                };
                ctx.io.out(&text);
                0
            }
            Err(err) => fail(ctx, "Error reading key status", &err),
        },
        OperatorCmd::Rotate => {
            if let Err(err) = client.call(Method::PUT, "sys/rotate", &[], None).await {
                return fail(ctx, "Error rotating key", &err);
            }
            match key_status(&client).await {
                Ok(status) if ctx.json() => {
                    ctx.io.out(&to_json(&status));
                    0
                }
                Ok(status) => {
                    ctx.io.out("Success! Rotated key");
                    ctx.io.out("");
                    ctx.io.out(&status.table());
                    0
                }
                Err(err) => fail(ctx, "Error reading key status", &err),
            }
        }
    }
}

fn fail(ctx: &mut Ctx<'_, '_>, what: &str, err: &ApiError) -> i32 {
    ctx.io.err(&format!("{what}: {err}"));
    2
}

struct Shares {
    key_shares: u32,
    key_threshold: u32,
    recovery_shares: u32,
    recovery_threshold: u32,
}

/// `POST sys/init` response; holds key shares and the root token, zeroized on drop, no `Debug`.
#[derive(Deserialize)]
struct InitResponse {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    keys_base64: Vec<String>,
    #[serde(default)]
    recovery_keys: Vec<String>,
    #[serde(default)]
    recovery_keys_base64: Vec<String>,
    #[serde(default)]
    root_token: String,
}

impl Drop for InitResponse {
    fn drop(&mut self) {
        self.keys.zeroize();
        self.keys_base64.zeroize();
        self.recovery_keys.zeroize();
        self.recovery_keys_base64.zeroize();
        self.root_token.zeroize();
    }
}

/// The vault CLI's `-format=json` shape of `operator init`.
#[derive(Serialize)]
struct MachineInit<'a> {
    unseal_keys_b64: Option<&'a [String]>,
    unseal_keys_hex: Option<&'a [String]>,
    unseal_shares: u32,
    unseal_threshold: u32,
    recovery_keys_b64: Option<&'a [String]>,
    recovery_keys_hex: Option<&'a [String]>,
    recovery_keys_shares: u32,
    recovery_keys_threshold: u32,
    root_token: &'a str,
}

/// Go marshals an empty (nil) slice as `null`.
fn nil_if_empty(items: &[String]) -> Option<&[String]> {
    (!items.is_empty()).then_some(items)
}

async fn init(ctx: &mut Ctx<'_, '_>, client: &ApiClient, shares: Shares, status_only: bool) -> i32 {
    if status_only {
        return init_status(ctx, client).await;
    }
    let seal = match seal_status(client).await {
        Ok(seal) => seal,
        Err(err) => {
            ctx.io.err(&err.to_string());
            return 2;
        }
    };
    let (secret_shares, secret_threshold, recovery_shares, recovery_threshold) =
        if seal.recovery_seal {
            (0, 0, shares.recovery_shares, shares.recovery_threshold)
        } else {
            (shares.key_shares, shares.key_threshold, 0, 0)
        };
    let request = if seal.recovery_seal {
        json!({"recovery_shares": recovery_shares, "recovery_threshold": recovery_threshold})
    } else {
        json!({"secret_shares": secret_shares, "secret_threshold": secret_threshold})
    };
    let response: InitResponse = match client
        .call_json(Method::PUT, "sys/init", Some(&request))
        .await
    {
        Ok(response) => response,
        Err(err) => return fail(ctx, "Error initializing", &err),
    };

    if ctx.json() {
        // Without returned keys the server stores them itself (auto-unseal): vault reports 1/1.
        let (unseal_shares, unseal_threshold) = if response.keys.is_empty() {
            (1, 1)
        } else {
            (secret_shares, secret_threshold)
        };
        let machine = MachineInit {
            unseal_keys_b64: nil_if_empty(&response.keys_base64),
            unseal_keys_hex: nil_if_empty(&response.keys),
            unseal_shares,
            unseal_threshold,
            recovery_keys_b64: nil_if_empty(&response.recovery_keys_base64),
            recovery_keys_hex: nil_if_empty(&response.recovery_keys),
            recovery_keys_shares: recovery_shares,
            recovery_keys_threshold: recovery_threshold,
            root_token: &response.root_token,
        };
        let text = Zeroizing::new(to_json(&machine));
        ctx.io.out(&text);
        return 0;
    }

    let use_b64 = response.keys_base64.len() == response.keys.len();
    for (i, key) in response.keys.iter().enumerate() {
        let shown = if use_b64 {
            response.keys_base64.get(i).unwrap_or(key)
        } else {
            key
        };
        ctx.io.out(&format!("Unseal Key {}: {shown}", i + 1));
    }
    let use_b64 = response.recovery_keys_base64.len() == response.recovery_keys.len();
    for (i, key) in response.recovery_keys.iter().enumerate() {
        let shown = if use_b64 {
            response.recovery_keys_base64.get(i).unwrap_or(key)
        } else {
            key
        };
        ctx.io.out(&format!("Recovery Key {}: {shown}", i + 1));
    }
    ctx.io.out("");
    ctx.io
        .out(&format!("Initial Root Token: {}", response.root_token));
    if response.keys.is_empty() {
        ctx.io.out("");
        ctx.io.out("Success! Vault is initialized");
    } else {
        ctx.io.out("");
        ctx.io.out(&wrap_at_length(
            &format!(
                "Vault initialized with {secret_shares} key shares and a key threshold of {secret_threshold}. \
                 Please securely distribute the key shares printed above. When the Vault is re-sealed, \
                 restarted, or stopped, you must supply at least {secret_threshold} of these keys to unseal it \
                 before it can start servicing requests."
            ),
            0,
        ));
        ctx.io.out("");
        ctx.io.out(&wrap_at_length(
            &format!(
                "Vault does not store the generated root key. Without at least {secret_threshold} keys to \
                 reconstruct the root key, Vault will remain permanently sealed!"
            ),
            0,
        ));
        ctx.io.out("");
        ctx.io.out(&wrap_at_length(
            "It is possible to generate new unseal keys, provided you have a quorum of existing unseal keys shares.",
            0,
        ));
    }
    if !response.recovery_keys.is_empty() {
        ctx.io.out("");
        ctx.io.out(&wrap_at_length(
            &format!(
                "Recovery key initialized with {recovery_shares} key shares and a key threshold of \
                 {recovery_threshold}. Please securely distribute the key shares printed above."
            ),
            0,
        ));
    }
    0
}

/// `operator init -status`: exit 0 initialized, 2 not initialized, 1 error.
async fn init_status(ctx: &mut Ctx<'_, '_>, client: &ApiClient) -> i32 {
    #[derive(Deserialize)]
    struct InitStatus {
        initialized: bool,
    }
    let initialized = match client
        .call_json::<InitStatus>(Method::GET, "sys/init", None)
        .await
    {
        Ok(status) => status.initialized,
        Err(err) => {
            ctx.io.err(&format!("Error checking init status: {err}"));
            return 1;
        }
    };
    if ctx.json() {
        // Vault's InitStatusResponse has no json tag, hence the capital I.
        ctx.io.out(&to_json(&json!({"Initialized": initialized})));
    } else if initialized {
        ctx.io.out("Vault is initialized");
    } else {
        ctx.io.out("Vault is not initialized");
    }
    if initialized { 0 } else { 2 }
}

async fn unseal(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    key: Option<Zeroizing<String>>,
    reset: bool,
) -> i32 {
    if reset {
        return match client
            .call_json::<SealStatus>(Method::PUT, "sys/unseal", Some(&json!({"reset": true})))
            .await
        {
            Ok(status) => output_seal_status(ctx, client, status).await,
            Err(err) => fail(ctx, "Error resetting unseal process", &err),
        };
    }
    let key = match key {
        Some(key) => Zeroizing::new(key.trim().to_owned()),
        None => match ctx.read_secret_line("Unseal Key (will be hidden): ") {
            Ok(key) => key,
            Err(err) => {
                ctx.io.err(&format!(
                    "An error occurred attempting to ask for an unseal key: {err}"
                ));
                return 1;
            }
        },
    };
    let mut body = json!({"key": key.as_str()});
    let result = client
        .call_json::<SealStatus>(Method::PUT, "sys/unseal", Some(&body))
        .await;
    scrub_key(&mut body);
    match result {
        // Vault exits 0 here even when more shares are still needed.
        Ok(status) => output_seal_status(ctx, client, status).await,
        Err(err) => fail(ctx, "Error unsealing", &err),
    }
}

/// Scrub the key out of the request body (serde_json values are not `Zeroize`).
fn scrub_key(body: &mut Value) {
    if let Some(Value::String(key)) = body.get_mut("key") {
        key.zeroize();
    }
}

/// `GET sys/key-status` data, serialized as vault's `KeyStatus`.
#[derive(Debug, Serialize)]
struct KeyStatus {
    term: i64,
    install_time: String,
    encryptions: i64,
}

impl KeyStatus {
    fn table(&self) -> String {
        columns(&[
            vec!["Key Term".into(), self.term.to_string()],
            vec!["Install Time".into(), rfc822_utc(&self.install_time)],
            vec!["Encryption Count".into(), self.encryptions.to_string()],
        ])
    }
}

async fn key_status(client: &ApiClient) -> Result<KeyStatus, ApiError> {
    let secret = client.read("sys/key-status").await?;
    let data = secret
        .and_then(|s| s.data.clone())
        .ok_or_else(|| ApiError::Decode("data from server response is empty".into()))?;
    let term = data
        .get("term")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::Decode("term not found in response".into()))?;
    let install_time = data
        .get("install_time")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::Decode("install_time not found in response".into()))?
        .to_owned();
    let encryptions = data.get("encryptions").and_then(Value::as_i64).unwrap_or(0);
    Ok(KeyStatus {
        term,
        install_time,
        encryptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_status_table_matches_bao() {
        let status = KeyStatus {
            term: 1,
            install_time: "2026-11-22T02:23:47.82411724Z".into(),
            encryptions: 1,
        };
        assert_eq!(
            status.table(),
            "Key Term            1\nInstall Time        22 Nov 26 02:23 UTC\nEncryption Count    1"
        );
        assert_eq!(
            to_json(&status),
            "{\n  \"term\": 1,\n  \"install_time\": \"2026-11-22T02:23:47.82411724Z\",\n  \"encryptions\": 1\n}"
        );
    }

    #[test]
    fn machine_init_shape() {
        let keys = vec!["aa".to_owned()];
        let machine = MachineInit {
            unseal_keys_b64: nil_if_empty(&keys),
            unseal_keys_hex: nil_if_empty(&keys),
            unseal_shares: 1,
            unseal_threshold: 1,
            recovery_keys_b64: nil_if_empty(&[]),
            recovery_keys_hex: nil_if_empty(&[]),
            recovery_keys_shares: 0,
            recovery_keys_threshold: 0,
            root_token: "s.x",
        };
        let value: Value = serde_json::from_str(&to_json(&machine)).unwrap();
        assert_eq!(
            value,
            json!({"unseal_keys_b64": ["aa"], "unseal_keys_hex": ["aa"], "unseal_shares": 1, "unseal_threshold": 1,
                   "recovery_keys_b64": null, "recovery_keys_hex": null, "recovery_keys_shares": 0,
                   "recovery_keys_threshold": 0, "root_token": "s.x"})
        );
    }
}
