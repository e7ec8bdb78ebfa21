//! The `coffer` binary: `coffer server ...` runs the server, every other subcommand is the vault-compatible client.

use std::process::ExitCode;

use server_node::cli::{self, Command};

fn main() -> ExitCode {
    // Usage errors exit 1 and --help 0, as the vault CLI does.
    let cli = match cli::parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
    };
    match cli.command {
        Command::Server(args) => server_main(args),
        other => ExitCode::from(u8::try_from(cli::run_client(&cli.global, other)).unwrap_or(1)),
    }
}

fn server_main(args: cli::ServerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(server_node::server::main(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each error's message already carries its cause; never a Debug dump.
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
