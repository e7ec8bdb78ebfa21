//! `auth enable | disable | list | tune`.

use clap::Subcommand;

use super::Ctx;
use super::mounts::{
    self, ConfigFlags, EnableFlags, MountKind, enable_body, ensure_trailing_slash, list, post,
};
use super::policy::expect_args;

/// `coffer auth ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AuthCmd {
    /// Enable an auth method: `enable [flags] TYPE`.
    Enable {
        /// Mount flags.
        #[command(flatten)]
        flags: EnableFlags,
        /// Type of tokens the method issues.
        #[arg(long = "token-type")]
        token_type: Option<String>,
        /// `TYPE`.
        args: Vec<String>,
    },
    /// Disable the auth method at a path.
    Disable {
        /// `PATH`.
        args: Vec<String>,
    },
    /// List the enabled auth methods.
    List {
        /// Show every mount setting.
        #[arg(long)]
        detailed: bool,
        /// Unexpected arguments (rejected like vault does).
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Tune an auth method's configuration.
    Tune {
        /// Configuration flags.
        #[command(flatten)]
        config: ConfigFlags,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Type of tokens the method issues.
        #[arg(long = "token-type")]
        token_type: Option<String>,
        /// `PATH`.
        args: Vec<String>,
    },
}

/// Run an auth subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: AuthCmd) -> i32 {
    match cmd {
        AuthCmd::Enable {
            flags,
            token_type,
            args,
        } => enable(ctx, &flags, token_type.as_deref(), &args).await,
        AuthCmd::Disable { args } => mounts::disable(ctx, MountKind::Auth, &args).await,
        AuthCmd::List { detailed, args } => list(ctx, MountKind::Auth, detailed, &args).await,
        AuthCmd::Tune {
            config,
            description,
            token_type,
            args,
        } => {
            mounts::tune(
                ctx,
                MountKind::Auth,
                &config,
                description.as_deref(),
                token_type.as_deref(),
                &args,
            )
            .await
        }
    }
}

async fn enable(
    ctx: &mut Ctx<'_, '_>,
    flags: &EnableFlags,
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
    let mut auth_type = args.first().map_or("", |a| a.trim()).to_owned();
    if auth_type == "plugin" {
        auth_type = flags.plugin_name.clone();
    }
    let mut path = flags.path.clone();
    if path.is_empty() {
        path = if auth_type == "plugin" {
            flags.plugin_name.clone()
        } else {
            auth_type.clone()
        };
    }
    let path = ensure_trailing_slash(&path);
    let body = enable_body(flags, &auth_type, false, token_type);
    if let Err(message) = post(&client, &format!("sys/auth/{path}"), &body).await {
        ctx.io
            .err(&format!("Error enabling {auth_type} auth: {message}"));
        return 2;
    }
    let thing = if auth_type == "plugin" {
        format!("{} plugin", flags.plugin_name)
    } else {
        format!("{auth_type} auth method")
    };
    ctx.io.out(&format!("Success! Enabled {thing} at: {path}"));
    0
}
