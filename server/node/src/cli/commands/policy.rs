//! `policy list | read | write | delete | fmt`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Ctx, go_os_error};
use crate::cli::client::{ApiClient, response_error};
use crate::cli::hclfmt;
use crate::cli::secret::Secret;

/// `coffer policy ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCmd {
    /// List the ACL policy names.
    List {
        /// Unexpected arguments (rejected like vault does).
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Print a policy's rules.
    Read {
        /// `NAME`.
        args: Vec<String>,
    },
    /// Upload a policy from a file, or `-` for stdin.
    Write {
        /// `NAME FILE`.
        args: Vec<String>,
    },
    /// Delete a policy.
    Delete {
        /// `NAME`.
        args: Vec<String>,
    },
    /// Validate and format a policy file in place.
    Fmt {
        /// `FILE`.
        args: Vec<String>,
    },
}

/// Vault's argument count check: `Not enough/Too many arguments (expected N, got M)`.
pub(crate) fn expect_args(args: &[String], expected: usize) -> Result<(), String> {
    if args.len() < expected {
        return Err(format!(
            "Not enough arguments (expected {expected}, got {})",
            args.len()
        ));
    }
    if args.len() > expected {
        return Err(format!(
            "Too many arguments (expected {expected}, got {})",
            args.len()
        ));
    }
    Ok(())
}

/// Run a policy subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: PolicyCmd) -> i32 {
    let (args, expected) = match &cmd {
        PolicyCmd::List { args } => (args, 0),
        PolicyCmd::Read { args } | PolicyCmd::Delete { args } | PolicyCmd::Fmt { args } => {
            (args, 1)
        }
        PolicyCmd::Write { args } => (args, 2),
    };
    if let Err(message) = expect_args(args, expected) {
        return ctx.usage(&message);
    }
    if let PolicyCmd::Fmt { args } = &cmd {
        return fmt(ctx, args.first().map_or("", String::as_str));
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    match cmd {
        PolicyCmd::List { .. } => list(ctx, &client).await,
        PolicyCmd::Read { .. } => read(ctx, &client, arg(0)).await,
        PolicyCmd::Write { .. } => write(ctx, &client, arg(0), arg(1)).await,
        PolicyCmd::Delete { .. } => {
            let name = arg(0).trim().to_lowercase();
            match client.delete(&format!("sys/policies/acl/{name}")).await {
                Err(err) => ctx.fail(&format!("Error deleting {name}"), &err),
                Ok(_) => {
                    ctx.io.out(&format!("Success! Deleted policy: {name}"));
                    0
                }
            }
        }
        PolicyCmd::Fmt { .. } => 0,
    }
}

async fn list(ctx: &mut Ctx<'_, '_>, client: &ApiClient) -> i32 {
    let secret = match client
        .call_secret(Method::GET, "sys/policies/acl", &[("list", "true")])
        .await
    {
        Ok(secret) => secret,
        Err(err) => return ctx.fail("Error listing policies", &err),
    };
    let Some(data) = secret.and_then(|s| s.data.clone()) else {
        ctx.io
            .err("Error listing policies: data from server response is empty");
        return 2;
    };
    let keys = data.get("keys").cloned().unwrap_or(Value::Null);
    if ctx.json() {
        return ctx.print_json(&keys);
    }
    for name in keys.as_array().into_iter().flatten() {
        let name = name
            .as_str()
            .map_or_else(|| name.to_string(), str::to_owned);
        ctx.io.out(&name);
    }
    0
}

async fn read(ctx: &mut Ctx<'_, '_>, client: &ApiClient, name: &str) -> i32 {
    let name = name.trim().to_lowercase();
    let rules = match get_policy(client, &name).await {
        Ok(rules) => rules,
        Err(message) => {
            ctx.io
                .err(&format!("Error reading policy named {name}: {message}"));
            return 2;
        }
    };
    if rules.is_empty() {
        ctx.io.err(&format!("No policy named: {name}"));
        return 2;
    }
    if ctx.json() {
        return ctx.print_json(&json!({"policy": rules}));
    }
    ctx.io.out(rules.trim());
    0
}

/// `GET sys/policies/acl/<name>`: the rules, or empty for a 404 (vault's `GetPolicy`).
async fn get_policy(client: &ApiClient, name: &str) -> Result<String, String> {
    let (url, response) = client
        .send(Method::GET, &format!("sys/policies/acl/{name}"), &[], None)
        .await
        .map_err(|e| e.to_string())?;
    if response.status == 404 {
        return Ok(String::new());
    }
    if response.status >= 400 {
        return Err(response_error(&Method::GET, &url, &response).to_string());
    }
    let secret = Secret::parse(&response.body).map_err(|e| e.to_string())?;
    let data = secret
        .and_then(|s| s.data.clone())
        .ok_or_else(|| "data from server response is empty".to_owned())?;
    match data.get("policy") {
        Some(Value::String(policy)) => Ok(policy.clone()),
        _ => Err("no policy found in response".to_owned()),
    }
}

async fn write(ctx: &mut Ctx<'_, '_>, client: &ApiClient, name: &str, source: &str) -> i32 {
    let formatted = name.trim().to_lowercase();
    let source = source.trim();
    let mut rules = String::new();
    if source == "-" {
        if let Err(err) = ctx.io.stdin.read_to_string(&mut rules) {
            ctx.io.err(&format!("Error reading policy: {err}"));
            return 2;
        }
    } else {
        let mut file = match std::fs::File::open(source) {
            Ok(file) => file,
            Err(err) => {
                ctx.io.err(&format!(
                    "Error opening policy file: {}",
                    go_os_error("open", source, &err)
                ));
                return 2;
            }
        };
        if let Err(err) = file.read_to_string(&mut rules) {
            ctx.io.err(&format!(
                "Error reading policy: {}",
                go_os_error("read", source, &err)
            ));
            return 2;
        }
    }
    let body = json!({"policy": rules});
    if let Err(err) = client
        .write_method(
            Method::PUT,
            &format!("sys/policies/acl/{formatted}"),
            Some(&body),
        )
        .await
    {
        return ctx.fail("Error uploading policy", &err);
    }
    if name != formatted {
        ctx.io.err(&format!(
            "Policy name was converted from \"{name}\" to \"{formatted}\""
        ));
    }
    ctx.io
        .out(&format!("Success! Uploaded policy: {formatted}"));
    0
}

/// Expand a leading `~` like Go's `homedir.Expand`.
fn expand_home(path: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(PathBuf::from(path));
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err("cannot expand user-specific home dir".to_owned());
    }
    let home = home.ok_or_else(|| "$HOME is not defined".to_owned())?;
    Ok(home.join(rest.trim_start_matches('/')))
}

/// `policy fmt FILE`: parse, validate, and rewrite the file formatted (exit 1 on any error).
fn fmt(ctx: &mut Ctx<'_, '_>, arg: &str) -> i32 {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match expand_home(arg.trim(), home.as_deref()) {
        Ok(path) => path,
        Err(message) => return ctx.usage(&format!("Failed to expand path: {message}")),
    };
    let shown = path.display().to_string();
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => {
            return ctx.usage(&format!(
                "Error reading source file: {}",
                go_os_error("open", &shown, &err)
            ));
        }
    };
    let formatted = match hclfmt::format_policy(&text) {
        Ok(formatted) => formatted,
        Err(err) => return ctx.usage(&err.to_string()),
    };
    if let Err(err) = write_file(&path, formatted.as_bytes()) {
        return ctx.usage(&format!(
            "Error writing result: {}",
            go_os_error("open", &shown, &err)
        ));
    }
    ctx.io.out(&format!("Success! Formatted policy: {shown}"));
    0
}

/// Write like Go's `os.WriteFile(path, data, 0o644)`.
fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o644);
    }
    options.open(path)?.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_counts() {
        let args = |n: usize| vec!["x".to_owned(); n];
        assert_eq!(expect_args(&args(1), 1), Ok(()));
        assert_eq!(
            expect_args(&args(1), 2),
            Err("Not enough arguments (expected 2, got 1)".into())
        );
        assert_eq!(
            expect_args(&args(2), 0),
            Err("Too many arguments (expected 0, got 2)".into())
        );
    }

    #[test]
    fn home_expansion() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_home("~/p.hcl", Some(home)).unwrap(),
            PathBuf::from("/home/u/p.hcl")
        );
        assert_eq!(
            expand_home("rel/p.hcl", None).unwrap(),
            PathBuf::from("rel/p.hcl")
        );
        assert!(expand_home("~bob/p.hcl", Some(home)).is_err());
    }
}
