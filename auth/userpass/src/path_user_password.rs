//! `users/{username}/password`: resets a user's password.

use engine_sdk::{Request, Response};

use crate::backend::{UserpassBackend, username};
use crate::path_users::password_input;
use crate::{UserpassError, user};

/// POST `users/{username}/password` with `password`.
pub(crate) async fn update(
    backend: &UserpassBackend,
    req: &Request<'_>,
) -> Result<Response, UserpassError> {
    let name = username(req)?;
    if user::load(req.storage, &name).await?.is_none() {
        return Err(UserpassError::UnknownUser);
    }
    let password = password_input(req.data)?.ok_or(UserpassError::PasswordRequired)?;
    let hash = backend.kdf.hash(password).await?;

    let _guard = backend.write_lock.lock().await;
    let mut entry = user::load(req.storage, &name)
        .await?
        .ok_or(UserpassError::UnknownUser)?;
    entry.password = Some(hash);
    user::save(req.storage, &name, &mut entry).await?;
    Ok(Response::default())
}
