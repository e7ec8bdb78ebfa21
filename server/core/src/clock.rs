//! Injected time: the engine SDK's clock, re-exported for the node.

pub use engine_sdk::{Clock, SystemClock};

/// RFC 3339 in UTC with nanoseconds (trailing zeros dropped), as Go's `time.RFC3339Nano` prints it.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
