//! `login/{username}`: checks the password and returns the `Auth` the core turns into a token.

use std::collections::BTreeMap;

use engine_sdk::{Alias, Auth, Request, Response, field};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::backend::{UserpassBackend, username};
use crate::password::PasswordHash;
use crate::{UserpassError, user};

/// POST `login/{username}` with `password`. An unknown user and a wrong password fail alike, after the same
/// hashing work.
pub(crate) async fn login(
    backend: &UserpassBackend,
    req: &Request<'_>,
) -> Result<Response, UserpassError> {
    let name = username(req)?;
    let password = field::string(req.data, "password")?
        .map(Zeroizing::new)
        .filter(|p| !p.is_empty())
        .ok_or(UserpassError::MissingPassword)?;

    let loaded = user::load(req.storage, &name).await;
    let stored = match &loaded {
        Ok(Some(entry)) => entry.password.clone(),
        _ => None,
    };
    let matched = backend.kdf.verify(stored.clone(), password.clone()).await?;
    if !matched {
        return Err(UserpassError::InvalidCredentials);
    }
    let Some(entry) = loaded? else {
        return Err(UserpassError::InvalidCredentials);
    };

    let remote = req.remote_addr.map(|a| a.ip());
    if !entry.token.token_bound_cidrs.is_empty() {
        let ip = remote.ok_or(UserpassError::SourceNotAllowed)?;
        if !engine_sdk::cidr::allowed(&entry.token.token_bound_cidrs, ip) {
            return Err(UserpassError::SourceNotAllowed);
        }
    }

    if let Some(old) = stored.filter(|h| backend.kdf.needs_upgrade(h)) {
        upgrade_hash(backend, req, &name, &old, password).await;
    }

    let mut internal = Map::new();
    internal.insert("username".into(), Value::String(name.clone()));
    let mut auth = Auth {
        display_name: name.clone(),
        metadata: BTreeMap::from([("username".to_owned(), name.clone())]),
        alias: Some(Alias {
            name: name.clone(),
            metadata: BTreeMap::new(),
        }),
        internal,
        ..Auth::default()
    };
    entry.token.populate_auth(&mut auth, remote)?;
    Ok(Response {
        auth: Some(auth),
        ..Response::default()
    })
}

/// Re-hashes a password stored with outdated parameters, now that the plaintext is at hand. Best effort: a
/// failure leaves the old (still valid) hash and never fails the login.
async fn upgrade_hash(
    backend: &UserpassBackend,
    req: &Request<'_>,
    name: &str,
    old: &PasswordHash,
    password: Zeroizing<String>,
) {
    let result = async {
        let new = backend.kdf.hash(password).await?;
        let _guard = backend.write_lock.lock().await;
        // Only if the password was not changed meanwhile (salts are unique per hash).
        let Some(mut entry) = user::load(req.storage, name).await? else {
            return Ok(());
        };
        if entry.password.as_ref().map(|h| &h.salt) != Some(&old.salt) {
            return Ok(());
        }
        entry.password = Some(new);
        user::save(req.storage, name, &mut entry).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not upgrade a stored password hash");
    }
}
