//! `login [token]`: verify a token with `auth/token/lookup-self` and store it in the token file.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::format::wrap_at_length;
use crate::cli::secret::{Secret, SecretAuth};

/// Run `login`; exit 2 on lookup or storage failure.
pub(crate) async fn login(ctx: &mut Ctx<'_, '_>, token: Option<String>) -> i32 {
    let token = token.map(Zeroizing::new);
    let token = match obtain_token(ctx, token) {
        Ok(token) => token,
        Err(message) => {
            ctx.io.err(&format!("Error authenticating: {message}"));
            return 2;
        }
    };
    let mut client = match ctx.client_without_token() {
        Ok(client) => client,
        Err(err) => {
            ctx.io.err(&err.to_string());
            return 2;
        }
    };
    client.set_token(Some(token.clone()));
    let lookup = match client.read("auth/token/lookup-self").await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            ctx.io
                .err("Error authenticating: empty response from lookup-self");
            return 2;
        }
        Err(err) => {
            ctx.io.err(&format!(
                "Error authenticating: error looking up token: {err}"
            ));
            return 2;
        }
    };
    let secret = Secret {
        auth: Some(auth_from_lookup(&token, lookup.data.as_ref())),
        ..Secret::default()
    };

    let Some(token_file) = ctx.env.token_file.clone() else {
        ctx.io
            .err("Error storing token: no home directory to store ~/.vault-token in");
        return 2;
    };
    if let Err(err) = store_token(&token_file, &token) {
        ctx.io.err(&format!("Error storing token: {err}"));
        ctx.io.err(&format!(
            "{}\n",
            wrap_at_length(
                "Authentication was successful, but the token was not persisted. The resulting token is shown \
                 below for your records.",
                0
            )
        ));
        ctx.print_secret(&secret);
        return 2;
    }
    if ctx.env.token.is_some() {
        ctx.io.err(&format!(
            "{}\n",
            wrap_at_length(
                "WARNING! The VAULT_TOKEN environment variable is set! The value of this variable will take \
                 precedence; if this is unwanted please unset VAULT_TOKEN or update its value accordingly.",
                0
            )
        ));
    }
    if !ctx.json() {
        ctx.io.out(&format!(
            "{}\n",
            wrap_at_length(
                "Success! You are now authenticated. The token information displayed below is already stored in \
                 the token helper. You do NOT need to run \"coffer login\" again. Future Vault requests will \
                 automatically use this token.",
                0
            )
        ));
    }
    ctx.print_secret(&secret)
}

/// The token from the argument (`-` = all of stdin, `token=x` accepted), else a (hidden) prompt.
fn obtain_token(
    ctx: &mut Ctx<'_, '_>,
    arg: Option<Zeroizing<String>>,
) -> Result<Zeroizing<String>, String> {
    let token = match arg {
        Some(arg) if arg.as_str() == "-" => {
            let mut text = Zeroizing::new(String::new());
            ctx.io
                .stdin
                .read_to_string(&mut text)
                .map_err(|e| format!("error reading stdin: {e}"))?;
            Zeroizing::new(text.trim().to_owned())
        }
        Some(arg) => Zeroizing::new(arg.strip_prefix("token=").unwrap_or(&arg).trim().to_owned()),
        None => ctx
            .read_secret_line("Token (will be hidden): ")
            .map_err(|e| format!("An error occurred attempting to ask for a token: {e}"))?,
    };
    if token.is_empty() {
        return Err(
            "a token must be passed to auth, please view the help for more information".to_owned(),
        );
    }
    Ok(token)
}

/// Shape `lookup-self` data like an auth response, as vault's token auth handler does.
fn auth_from_lookup(token: &str, data: Option<&Map<String, Value>>) -> SecretAuth {
    let empty = Map::new();
    let data = data.unwrap_or(&empty);
    let strings = |key: &str| -> Option<Vec<String>> {
        data.get(key).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    let token_policies = strings("policies");
    let identity_policies = strings("identity_policies");
    let policies = match (&token_policies, &identity_policies) {
        (None, None) => None,
        (t, i) => Some(t.iter().chain(i.iter()).flatten().cloned().collect()),
    };
    let metadata = data.get("meta").and_then(Value::as_object).map(|meta| {
        meta.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect()
    });
    let lease_duration = match data.get("ttl") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => crate::cli::args::parse_duration(s)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0),
        _ => 0,
    };
    // SecretAuth zeroizes on drop, so it is filled in place rather than with `..Default::default()`.
    let mut auth = SecretAuth::default();
    auth.client_token = data
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(token)
        .to_owned();
    auth.accessor = data
        .get("accessor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    auth.policies = policies;
    auth.token_policies = token_policies;
    auth.identity_policies = identity_policies;
    auth.metadata = metadata;
    auth.lease_duration = lease_duration;
    auth.renewable = data
        .get("renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    auth
}

/// Write the token file readable by the owner only (vault's token helper uses mode 0600).
fn store_token(path: &Path, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::secret_table;
    use serde_json::json;

    #[test]
    fn lookup_data_becomes_auth() {
        let data = json!({"id": "root", "accessor": "acc", "policies": ["root"], "ttl": 0, "renewable": false, "meta": null});
        let secret = Secret {
            auth: Some(auth_from_lookup("root", data.as_object())),
            ..Secret::default()
        };
        assert_eq!(
            secret_table(&secret).unwrap(),
            "Key                  Value\n---                  -----\ntoken                root\ntoken_accessor       acc\n\
             token_duration       ∞\ntoken_renewable      false\ntoken_policies       [\"root\"]\n\
             identity_policies    []\npolicies             [\"root\"]"
        );
        let data = json!({"id": "t", "policies": ["default"], "identity_policies": ["idp"], "ttl": 3600, "renewable": true, "meta": {"k": "v"}});
        let auth = auth_from_lookup("t", data.as_object());
        assert_eq!(
            auth.policies.as_deref().unwrap(),
            ["default".to_owned(), "idp".to_owned()]
        );
        assert_eq!(auth.lease_duration, 3600);
        assert_eq!(auth.metadata.as_ref().unwrap().get("k").unwrap(), "v");
    }

    #[test]
    fn token_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".vault-token");
        store_token(&path, "abc").unwrap();
        store_token(&path, "s.x").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s.x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
