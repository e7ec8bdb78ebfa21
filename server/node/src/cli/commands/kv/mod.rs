//! `kv get | put | patch | delete | undelete | destroy | list | metadata | rollback`.
//!
//! Like vault, every command first asks `sys/internal/ui/mounts/<path>` for the mount path and KV version,
//! then uses `<mount>/data/...` and friends for version 2 and the plain path for version 1.

mod get;
mod metadata;
mod put;
mod versions;

use clap::Subcommand;
use clap::builder::BoolishValueParser;
use reqwest::Method;
use serde_json::{Map, Value};

use super::{Ctx, sanitize_path};
use crate::cli::args::GoDuration;
use crate::cli::client::{ApiClient, response_error};
use crate::cli::format::header_for_map;
use crate::cli::format::pad_equal_signs;
use crate::cli::secret::Secret;

/// `coffer kv ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum KvCmd {
    /// Read a secret (a given `-version` for KV v2).
    Get {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Version to read (KV v2).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        version: i64,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Write a secret: `put PATH K=V...` (`-cas` for KV v2 check-and-set).
    Put {
        /// Mount path; the first argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Check-and-set version (-1 = none).
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        cas: i64,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
        /// `PATH K=V...`.
        args: Vec<String>,
    },
    /// Update some keys of a KV v2 secret (`-method=patch` or `rw`).
    Patch {
        /// Mount path; the first argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Check-and-set version (0 = none).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        cas: i64,
        /// `patch` (HTTP PATCH) or `rw` (read, then write).
        #[arg(long, default_value = "")]
        method: String,
        /// Key to remove (repeatable).
        #[arg(long = "remove-data")]
        remove_data: Vec<String>,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
        /// `PATH K=V...`.
        args: Vec<String>,
    },
    /// Delete a secret (its latest version, or `-versions` for KV v2).
    Delete {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Versions to delete (repeatable, comma-separated).
        #[arg(long)]
        versions: Vec<String>,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Restore deleted versions of a KV v2 secret.
    Undelete {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Versions to restore (repeatable, comma-separated).
        #[arg(long)]
        versions: Vec<String>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Permanently remove versions of a KV v2 secret.
    Destroy {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Versions to destroy (repeatable, comma-separated).
        #[arg(long)]
        versions: Vec<String>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// List the keys under a path.
    List {
        /// Mount path; the argument (optional) is then the path inside it.
        #[arg(long, default_value = "")]
        mount: String,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Work with KV v2 metadata.
    #[command(subcommand)]
    Metadata(KvMetadataCmd),
    /// Write an older version of a KV v2 secret as its newest version.
    Rollback {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Version to roll back to.
        #[arg(long, allow_negative_numbers = true)]
        version: Option<i64>,
        /// `PATH`.
        args: Vec<String>,
    },
}

/// `coffer kv metadata ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum KvMetadataCmd {
    /// Print a secret's metadata and versions.
    Get {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Set a secret's metadata.
    Put {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// Number of versions to keep (-1 = unchanged).
        #[arg(long = "max-versions", default_value_t = -1, allow_negative_numbers = true)]
        max_versions: i64,
        /// Require check-and-set on writes.
        #[arg(long = "cas-required", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = BoolishValueParser::new())]
        cas_required: Option<bool>,
        /// Delete versions this long after writing them (negative = unchanged).
        #[arg(long = "delete-version-after", value_parser = GoDuration::parse, default_value = "-1",
              allow_hyphen_values = true)]
        delete_version_after: GoDuration,
        /// Custom metadata `key=value` (repeatable).
        #[arg(long = "custom-metadata", value_parser = super::token::parse_key_value)]
        custom_metadata: Vec<(String, String)>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Delete a secret's metadata and all its versions.
    Delete {
        /// Mount path; the argument is then the secret path.
        #[arg(long, default_value = "")]
        mount: String,
        /// `PATH`.
        args: Vec<String>,
    },
}

/// Run a kv subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: KvCmd) -> i32 {
    match cmd {
        KvCmd::Get {
            mount,
            version,
            field,
            args,
        } => get::get(ctx, &mount, version, field.as_deref(), &args).await,
        KvCmd::List { mount, args } => get::list(ctx, &mount, &args).await,
        KvCmd::Put {
            mount,
            cas,
            field,
            args,
        } => put::put(ctx, &mount, cas, field.as_deref(), &args).await,
        KvCmd::Patch {
            mount,
            cas,
            method,
            remove_data,
            field,
            args,
        } => {
            let opts = put::PatchOptions {
                cas,
                method,
                remove_data,
                field,
            };
            put::patch(ctx, &mount, &opts, &args).await
        }
        KvCmd::Rollback {
            mount,
            version,
            args,
        } => put::rollback(ctx, &mount, version, &args).await,
        KvCmd::Delete {
            mount,
            versions,
            field,
            args,
        } => versions::delete(ctx, &mount, &versions, field.as_deref(), &args).await,
        KvCmd::Undelete {
            mount,
            versions,
            args,
        } => versions::undelete(ctx, &mount, &versions, &args).await,
        KvCmd::Destroy {
            mount,
            versions,
            args,
        } => versions::destroy(ctx, &mount, &versions, &args).await,
        KvCmd::Metadata(cmd) => metadata::run(ctx, cmd).await,
    }
}

// ---------------------------------------------------------------------------------------------------
// Paths.

/// Go's `path.Clean`.
pub(crate) fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `path.Join`: the non-empty elements joined by `/` and cleaned; empty if all are empty.
pub(crate) fn go_join(elements: &[&str]) -> String {
    let parts: Vec<&str> = elements.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    go_clean(&parts.join("/"))
}

/// Vault's `addPrefixToKVPath` (without `skipIfExists`): insert `api_prefix` (`data`, `metadata`, ...)
/// after the mount path.
pub(crate) fn add_prefix(path: &str, mount_path: &str, api_prefix: &str) -> String {
    let mut mount = mount_path.to_owned();
    if path == mount || path == mount.strip_suffix('/').unwrap_or(&mount) {
        return go_join(&[&mount, api_prefix]);
    }
    let mut suffix = path.strip_prefix(mount.as_str()).unwrap_or(path).to_owned();
    while suffix == path {
        // Drop leading mount segments the path does not contain (namespaces in the mount path).
        let Some((_, rest)) = mount.split_once('/') else {
            break;
        };
        if rest.is_empty() {
            break;
        }
        mount = rest.strip_suffix('/').unwrap_or(rest).to_owned();
        suffix = suffix
            .strip_prefix(mount.as_str())
            .unwrap_or(&suffix)
            .to_owned();
    }
    go_join(&[&mount, api_prefix, &suffix])
}

/// The mount a KV path lives on, as `sys/internal/ui/mounts` reports it.
pub(crate) struct Mount {
    /// Mount path with a trailing slash (empty when the server does not know the endpoint).
    pub(crate) path: String,
    /// Whether it is KV version 2.
    pub(crate) v2: bool,
}

/// Vault's `kvPreflightVersionRequest`: a 404 means an old server, i.e. version 1. Never wrapped.
pub(crate) async fn preflight(client: &ApiClient, path: &str) -> Result<Mount, String> {
    let client = client.unwrapped();
    let (url, response) = client
        .send(
            Method::GET,
            &format!("sys/internal/ui/mounts/{path}"),
            &[],
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    if response.status == 404 {
        return Ok(Mount {
            path: String::new(),
            v2: false,
        });
    }
    if response.status >= 400 {
        return Err(response_error(&Method::GET, &url, &response).to_string());
    }
    let secret = Secret::parse(&response.body)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "nil response from pre-flight request".to_owned())?;
    let data = secret.data.unwrap_or_default();
    let mount_path = data
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let version = data
        .get("options")
        .and_then(|o| o.get("version"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Mount {
        path: mount_path,
        v2: version == "2",
    })
}

/// A resolved KV target: the mount, and the path to prefix (`mount/secret` for v2).
pub(crate) struct Target {
    pub(crate) mount: Mount,
    pub(crate) partial: String,
    mount_flag: bool,
}

impl Target {
    /// The request path: `<mount>/<prefix>/<secret>` for v2, else the plain path.
    pub(crate) fn full_path(&self, v2_prefix: &str) -> String {
        if self.mount.v2 {
            add_prefix(&self.partial, &self.mount.path, v2_prefix)
        } else if self.mount_flag {
            go_join(&[&self.mount.path, &self.partial])
        } else {
            self.partial.clone()
        }
    }
}

/// Resolve `-mount=<m> <path>` or `<mount/path>` like vault's kv commands (`partial` already trimmed).
pub(crate) async fn resolve(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    mount_flag: &str,
    partial: String,
) -> Result<Target, i32> {
    let with_flag = !mount_flag.is_empty();
    let lookup = if with_flag {
        sanitize_path(mount_flag)
    } else {
        partial.clone()
    };
    let mount = match preflight(client, &lookup).await {
        Ok(mount) => mount,
        Err(message) => {
            ctx.io.err(&message);
            return Err(2);
        }
    };
    let partial = if with_flag && mount.v2 {
        go_join(&[&mount.path, &partial])
    } else {
        partial
    };
    Ok(Target {
        mount,
        partial,
        mount_flag: with_flag,
    })
}

/// Split `-versions` values at commas (vault's `kvParseVersionsFlags`).
pub(crate) fn parse_versions(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Output.

impl Ctx<'_, '_> {
    /// `== Secret Path ==`, the path, and a blank line (vault's `outputPath`).
    pub(crate) fn print_path_section(&mut self, path: &str, title: &str) {
        self.io.out(&pad_equal_signs(title, path.len()));
        self.io.out(path);
        self.io.out("");
    }

    /// A `== Title ==` header sized for `map`, then the map's table.
    pub(crate) fn print_map_section(&mut self, title: &str, map: Option<&Map<String, Value>>) {
        self.io.out(&header_for_map(title, map));
        if let Some(map) = map {
            self.print_map(map);
        }
    }

    /// The "Success! Data written to" line vault prints in table mode when a write returns nothing.
    pub(crate) fn print_written(&mut self, path: &str) {
        if !self.json() {
            self.io.out(&format!("Success! Data written to: {path}"));
        }
    }
}

/// Whether the secret carries response-wrapping info with a non-zero TTL.
pub(crate) fn is_wrapped(secret: &Secret) -> bool {
    secret
        .wrap_info
        .as_ref()
        .and_then(|w| w.get("ttl"))
        .and_then(Value::as_i64)
        .is_some_and(|ttl| ttl != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(go_join(&["secret/", "data", "foo/"]), "secret/data/foo");
        assert_eq!(go_join(&["", ""]), "");
        assert_eq!(go_join(&["a/../b", "c"]), "b/c");
        assert_eq!(go_clean("/a//b/"), "/a/b");
        assert_eq!(go_clean("../x"), "../x");
    }

    #[test]
    fn kv_prefixes_like_vault() {
        assert_eq!(
            add_prefix("secret/foo", "secret/", "data"),
            "secret/data/foo"
        );
        assert_eq!(
            add_prefix("secret/a/b", "secret/", "metadata"),
            "secret/metadata/a/b"
        );
        assert_eq!(
            add_prefix("secret", "secret/", "metadata"),
            "secret/metadata"
        );
        assert_eq!(
            add_prefix("secret/", "secret/", "metadata"),
            "secret/metadata"
        );
        // -mount=secret with undelete keeps the flag's mount path and the bare secret path.
        assert_eq!(
            add_prefix("foo", "secret", "undelete"),
            "secret/undelete/foo"
        );
        // A mount path with a namespace prefix the secret path lacks.
        assert_eq!(add_prefix("kv/foo", "ns1/kv/", "data"), "kv/data/foo");
        assert_eq!(
            parse_versions(&["1,2".into(), " 3 ".into(), String::new()]),
            ["1", "2", "3"]
        );
    }
}
