//! The engines' periodic work (static-role rotation, crash repair): every mounted backend that asks for it
//! (`LogicalBackend::periodic_interval`) is ticked about that often while the core is unsealed and this node
//! leads the cluster (DESIGN.md §5: background work is leader-only).

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::Unsealed;

/// How often the ticker looks at the mounts.
const TICK: Duration = Duration::from_secs(1);

/// Runs until the core seals (the task is aborted, or `u` can no longer be upgraded).
pub(crate) async fn run(
    u: Weak<Unsealed>,
    clock: std::sync::Arc<dyn crate::Clock>,
    cluster: std::sync::Arc<dyn crate::Cluster>,
) {
    let mut last: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(unsealed) = u.upgrade() else {
            return;
        };
        if !cluster.status().is_leader {
            // A new leader starts every mount's work afresh.
            last.clear();
            continue;
        }
        let router = unsealed.mounts.router();
        for route in router.routes() {
            let Some(every) = route.backend.periodic_interval() else {
                continue;
            };
            let due = last
                .get(&route.entry.uuid)
                .is_none_or(|at| at.elapsed() >= every);
            if !due {
                continue;
            }
            last.insert(route.entry.uuid.clone(), Instant::now());
            let req = engine_sdk::PeriodicRequest {
                storage: &route.view,
                clock: clock.as_ref(),
                mount: &route.info,
                system: &unsealed.system,
            };
            if let Err(e) = route.backend.periodic(req).await {
                tracing::warn!(mount = %route.info.path, error = %e, "periodic work of a mount failed");
            }
        }
    }
}
