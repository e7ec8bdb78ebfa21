//! The conformance suite every engine runs against its own path table.

#![allow(clippy::panic, reason = "test helper")]

use crate::{LogicalBackend, PathRouter};

/// Checks that the path table compiles without overlaps, every spec documents itself and serves at least one
/// operation, and every special path refers to a pattern prefix the table can route.
pub fn exercise_engine(backend: &dyn LogicalBackend) {
    let paths = backend.paths();
    if let Err(e) = PathRouter::new(paths) {
        panic!("path table does not compile: {e}");
    }
    for spec in paths {
        assert!(!spec.help.is_empty(), "path {:?} has no help", spec.pattern);
        assert!(
            !spec.ops.is_empty(),
            "path {:?} serves no operation",
            spec.pattern
        );
        let mut names: Vec<_> = spec.fields.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            spec.fields.len(),
            "path {:?} documents a field twice",
            spec.pattern
        );
    }
}

/// A [`SystemView`](crate::SystemView) for engine tests that never generate passwords.
pub struct NoSystem;

#[async_trait::async_trait]
impl crate::SystemView for NoSystem {
    async fn generate_password(&self, _policy: &str) -> Result<String, crate::EngineError> {
        Err(crate::EngineError::Internal(
            "password generation is not available in this test".into(),
        ))
    }
}

/// A [`Clock`](crate::Clock) the tests move by hand, so TTL logic is tested without sleeping.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<std::time::SystemTime>);

impl ManualClock {
    /// A clock reading the current time until it is moved.
    #[must_use]
    pub fn now_real() -> Self {
        Self::at(std::time::SystemTime::now())
    }

    /// A clock reading `t` until it is moved.
    #[must_use]
    pub fn at(t: std::time::SystemTime) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }
}

impl crate::Clock for ManualClock {
    fn now(&self) -> std::time::SystemTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
