//! Driver for hvac, the Python Vault client: runs `python3 -c PRELUDE + script`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::bao::{CmdOutput, run_command};

/// Defines `client` (an `hvac.Client` for the server) and `out(value)` (prints one JSON line the driver
/// parses).
const PRELUDE: &str = r#"
import json, os, sys
import hvac
client = hvac.Client(
    url=os.environ["COFFER_URL"],
    token=os.environ.get("COFFER_TOKEN", ""),
    verify=os.environ.get("COFFER_CA") or True,
    timeout=30,
)
def out(value):
    print(json.dumps(value, default=str))
"#;

/// The Python interpreter that can `import hvac`; fails the test when there is none (never skips).
pub fn python_with_hvac() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import hvac, sys; print(sys.executable)"])
            .output()
            .unwrap_or_else(|e| {
                panic!("python3 is not installed ({e}); hvac tests need python3 with hvac")
            });
        assert!(
            out.status.success(),
            "hvac is not installed: run `python3 -m pip install hvac` (scripts/test does it)\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// Runs hvac scripts against one server.
#[derive(Clone)]
pub struct Hvac {
    url: String,
    token: Option<String>,
    ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for Hvac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hvac")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Hvac {
    /// A driver for the server at `url`, no token.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            token: None,
            ca_cert: None,
        }
    }

    /// Sets (or clears) the client token.
    pub fn token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Verifies the server with this CA file.
    pub fn ca_cert(mut self, path: &Path) -> Self {
        self.ca_cert = Some(path.to_path_buf());
        self
    }

    /// Runs `script` (with `client` and `out` defined) and returns the JSON of its last `out(...)` line; fails
    /// the test unless it exits 0.
    pub async fn run(&self, script: &str) -> Value {
        let out = self.try_run(script).await;
        out.expect_code(0, &format!("hvac script:\n{script}"));
        let last = out
            .stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("null");
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("hvac script printed no JSON line ({e}):\n{}", out.stdout))
    }

    /// Runs `script` and returns its exit code and output without judging them.
    pub async fn try_run(&self, script: &str) -> CmdOutput {
        let mut cmd = tokio::process::Command::new(python_with_hvac());
        cmd.arg("-c").arg(format!("{PRELUDE}\n{script}"));
        cmd.env("COFFER_URL", &self.url)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env_remove("COFFER_TOKEN")
            .env_remove("COFFER_CA");
        if let Some(t) = &self.token {
            cmd.env("COFFER_TOKEN", t);
        }
        if let Some(ca) = &self.ca_cert {
            cmd.env("COFFER_CA", ca);
        }
        run_command(cmd, None, "python3 (hvac)").await
    }
}
