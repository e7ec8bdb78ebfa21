//! `unwrap [token]`: `PUT sys/wrapping/unwrap`.

use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::client::{ApiClient, response_error};
use crate::cli::secret::Secret;

/// Where servers before response-wrapping v2 kept the wrapped response.
const WRAPPED_RESPONSE_LOCATION: &str = "cubbyhole/response";

/// Vault's `Logical().Unwrap`: an empty token unwraps the client token; a different token than the client's
/// is sent in the body; a client without a token uses the wrapping token itself.
pub(crate) async fn unwrap_secret(
    client: &mut ApiClient,
    wrapping_token: &str,
) -> Result<Option<Secret>, String> {
    let trimmed = wrapping_token.trim();
    let mut body = None;
    if !wrapping_token.is_empty() {
        match client.token() {
            None | Some("") => client.set_token(Some(Zeroizing::new(trimmed.to_owned()))),
            Some(own) if own != wrapping_token => body = Some(json!({"token": trimmed})),
            Some(_) => {}
        }
    }
    let (url, response) = client
        .send(Method::PUT, "sys/wrapping/unwrap", &[], body.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if response.status != 404 {
        if response.status >= 400 {
            return Err(response_error(&Method::PUT, &url, &response).to_string());
        }
        return Secret::parse(&response.body).map_err(|e| e.to_string());
    }
    let secret = Secret::parse(&response.body).map_err(|e| e.to_string())?;
    if let Some(secret) = secret.filter(Secret::has_content) {
        return Ok(Some(secret));
    }
    // Legacy servers: read the response out of the wrapping token's cubbyhole.
    let mut legacy = client.clone();
    if !wrapping_token.is_empty() {
        legacy.set_token(Some(Zeroizing::new(wrapping_token.to_owned())));
    }
    let quoted = format!("\"{WRAPPED_RESPONSE_LOCATION}\"");
    let secret = legacy
        .read(WRAPPED_RESPONSE_LOCATION)
        .await
        .map_err(|e| format!("error reading {quoted}: {e}"))?
        .ok_or_else(|| format!("no value found at {quoted}"))?;
    let data = secret
        .data
        .ok_or_else(|| "\"data\" not found in wrapping response".to_owned())?;
    let response = data
        .get("response")
        .ok_or_else(|| "\"response\" not found in wrapping response \"data\" map".to_owned())?;
    let text = response.as_str().unwrap_or_default();
    serde_json::from_str::<Secret>(text)
        .map(Some)
        .map_err(|e| format!("error unmarshalling wrapped secret: {e}"))
}

/// `unwrap [token]`.
pub(crate) async fn unwrap(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    if args.len() > 1 {
        return ctx.usage(&format!(
            "Too many arguments (expected 0-1, got {})",
            args.len()
        ));
    }
    let mut client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let token = Zeroizing::new(
        args.first()
            .map(|t| t.trim().to_owned())
            .unwrap_or_default(),
    );
    let secret = match unwrap_secret(&mut client, &token).await {
        Ok(secret) => secret,
        Err(message) => {
            ctx.io.err(&format!("Error unwrapping: {message}"));
            return 2;
        }
    };
    let Some(secret) = secret else {
        if !ctx.json() {
            ctx.io
                .out("Successfully unwrapped. There was no data in the wrapped secret.");
        }
        return 0;
    };
    if secret
        .data
        .as_ref()
        .and_then(|d| d.get("keys"))
        .is_some_and(Value::is_array)
    {
        return ctx.print_list(&secret);
    }
    ctx.print_secret(&secret)
}
