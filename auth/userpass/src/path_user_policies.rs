//! `users/{username}/policies`: replaces the policies of a user's tokens.

use engine_sdk::{Request, Response, field};

use crate::backend::{UserpassBackend, username};
use crate::{UserpassError, user};
use engine_sdk::token_fields::sanitize_policies;

/// POST `users/{username}/policies` with `token_policies` (or the deprecated `policies`).
pub(crate) async fn update(
    backend: &UserpassBackend,
    req: &Request<'_>,
) -> Result<Response, UserpassError> {
    let name = username(req)?;
    let token_policies = field::strings(req.data, "token_policies")?;
    let policies = field::strings(req.data, "policies")?;

    let _guard = backend.write_lock.lock().await;
    let mut entry = user::load(req.storage, &name)
        .await?
        .ok_or(UserpassError::UnknownUser)?;
    match (token_policies, policies) {
        (Some(tp), legacy) => {
            entry.token.token_policies = sanitize_policies(&tp);
            // The deprecated name is echoed on read only while it is still used.
            entry.policies = if legacy.is_some() {
                entry.token.token_policies.clone()
            } else {
                Vec::new()
            };
        }
        (None, Some(p)) => {
            entry.policies = sanitize_policies(&p);
            entry.token.token_policies = entry.policies.clone();
        }
        (None, None) => {}
    }
    user::save(req.storage, &name, &mut entry).await?;
    Ok(Response::default())
}
