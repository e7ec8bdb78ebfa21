//! Injected time: the engine SDK's clock, re-exported for the node.

pub use engine_sdk::{Clock, SystemClock};
