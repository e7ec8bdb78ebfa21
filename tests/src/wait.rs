//! Polling with a deadline: tests wait for a condition, never for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, backing off from 10 ms to 200 ms between tries; fails the test with
/// `what` when `timeout` passes first.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// [`wait_until`] for a condition that is simply true or false.
pub async fn wait_until_true<F, Fut>(timeout: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_until(timeout, what, || {
        let fut = probe();
        async move { fut.await.then_some(()) }
    })
    .await;
}

/// The blocking twin of [`wait_until`], for synchronous fixtures (throwaway databases) that must also work
/// inside a tokio test: polls `probe` with the same backoff and returns `None` when `timeout` passes first, so
/// the caller can fail with its own context (a server log).
pub fn poll_blocking<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
