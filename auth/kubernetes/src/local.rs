//! The pod's own service-account files, the defaults for the CA and the reviewer JWT when Coffer runs in a pod.
//! Projected tokens are short-lived and rotated by the kubelet, so the token is re-read at most every minute (and
//! the CA too, so a rotated cluster CA is picked up without a restart).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Where Kubernetes mounts a pod's service-account token and cluster CA.
pub(crate) const DEFAULT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// How long a read file is trusted before it is read again.
const REREAD_AFTER: Duration = Duration::from_secs(60);

/// One cached file.
#[derive(Default)]
struct Cached {
    read_at: Option<Instant>,
    value: Option<Zeroizing<String>>,
}

/// The pod-local `token` and `ca.crt`, read lazily and cached for a minute.
pub(crate) struct LocalFiles {
    dir: PathBuf,
    token: Mutex<Cached>,
    ca: Mutex<Cached>,
}

impl std::fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFiles")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalFiles {
    /// The files under `dir`.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            token: Mutex::default(),
            ca: Mutex::default(),
        }
    }

    /// The pod's service-account token, if there is one.
    pub(crate) async fn token(&self) -> Option<Zeroizing<String>> {
        read_cached(&self.token, &self.dir.join("token")).await
    }

    /// The cluster CA the pod was given, if there is one.
    pub(crate) async fn ca(&self) -> Option<String> {
        read_cached(&self.ca, &self.dir.join("ca.crt"))
            .await
            .map(|ca| ca.to_string())
    }
}

async fn read_cached(slot: &Mutex<Cached>, path: &Path) -> Option<Zeroizing<String>> {
    let now = Instant::now();
    if let Ok(cached) = slot.lock()
        && let Some(at) = cached.read_at
        && now.duration_since(at) < REREAD_AFTER
    {
        return cached.value.clone();
    }
    // A missing or unreadable file simply means "not in a pod" (OpenBao's behaviour). Concurrent logins at the
    // minute mark may each read it once; the lock is never held across the read.
    let value = tokio::fs::read_to_string(path)
        .await
        .ok()
        .map(|s| Zeroizing::new(s.trim().to_owned()))
        .filter(|s| !s.is_empty());
    if let Ok(mut cached) = slot.lock() {
        cached.read_at = Some(now);
        cached.value = value.clone();
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let files = LocalFiles::new(dir.path());
        assert!(files.token().await.is_none());
        assert!(files.ca().await.is_none());

        // Cached for a minute: a file appearing now is not seen yet...
        std::fs::write(dir.path().join("token"), "tok\n").unwrap();
        assert!(files.token().await.is_none());
        // ...but a fresh reader sees it, trimmed.
        let fresh = LocalFiles::new(dir.path());
        assert_eq!(fresh.token().await.unwrap().as_str(), "tok");
        std::fs::write(dir.path().join("token"), "rotated").unwrap();
        assert_eq!(fresh.token().await.unwrap().as_str(), "tok");
    }
}
