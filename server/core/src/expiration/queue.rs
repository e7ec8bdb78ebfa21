//! The revocation queue: due records grouped by mount and served in turn, so one mount's revocation storm
//! does not starve another's; a record already queued or in progress is not queued twice.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
struct Inner {
    /// Pending (index key, target) per group.
    groups: HashMap<String, VecDeque<(String, String)>>,
    /// Groups with pending work, in serving order.
    order: VecDeque<String>,
    /// Targets queued or being handled.
    in_flight: HashSet<String>,
}

/// Due records waiting for a worker.
pub(super) struct RevocationQueue {
    inner: Mutex<Inner>,
    ready: Notify,
}

impl RevocationQueue {
    pub(super) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
        }
    }

    /// Queues `target` (a lease id or token record) found at `index_key`, unless it is already in flight.
    pub(super) fn push(&self, group: String, index_key: String, target: String) {
        let Ok(mut q) = self.inner.lock() else {
            return;
        };
        if !q.in_flight.insert(target.clone()) {
            return;
        }
        let pending = q.groups.entry(group.clone()).or_default();
        pending.push_back((index_key, target));
        if pending.len() == 1 {
            q.order.push_back(group);
        }
        drop(q);
        self.ready.notify_one();
    }

    /// The next record, taking groups in turn; waits while the queue is empty.
    pub(super) async fn pop(&self) -> (String, String) {
        loop {
            let notified = self.ready.notified();
            if let Some(item) = self.try_pop() {
                return item;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<(String, String)> {
        let mut q = self.inner.lock().ok()?;
        while let Some(group) = q.order.pop_front() {
            let Some(pending) = q.groups.get_mut(&group) else {
                continue;
            };
            let Some(item) = pending.pop_front() else {
                q.groups.remove(&group);
                continue;
            };
            if pending.is_empty() {
                q.groups.remove(&group);
            } else {
                q.order.push_back(group);
            }
            // Others may be waiting for the rest.
            if !q.order.is_empty() {
                self.ready.notify_one();
            }
            return Some(item);
        }
        None
    }

    /// Marks `target` handled (it may be queued again by a later scan).
    pub(super) fn done(&self, target: &str) {
        if let Ok(mut q) = self.inner.lock() {
            q.in_flight.remove(target);
        }
    }

    /// Records queued or being handled.
    pub(super) fn in_flight(&self) -> usize {
        self.inner.lock().map(|q| q.in_flight.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn groups_are_served_in_turn_and_duplicates_dropped() {
        let q = RevocationQueue::new();
        for i in 0..3 {
            q.push("a".into(), format!("ka{i}"), format!("a/{i}"));
        }
        q.push("b".into(), "kb0".into(), "b/0".into());
        q.push("a".into(), "ka0".into(), "a/0".into());
        assert_eq!(q.in_flight(), 4);
        let order: Vec<String> = [q.pop().await, q.pop().await, q.pop().await, q.pop().await]
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(order, ["a/0", "b/0", "a/1", "a/2"]);
        q.done("a/0");
        assert_eq!(q.in_flight(), 3);
    }
}
