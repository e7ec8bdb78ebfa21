//! Mounting, unmounting, tuning and moving backends; rebuilds the routing snapshot on every change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use engine_sdk::{BackendConfig, Factory, LogicalBackend, MountInfo, PathRouter};
use storage::{Op, Storage, View};

use crate::mount_table::{MountConfig, MountEntry, MountTable, Table};
use crate::router::{Route, Router};
use crate::{CoreError, paths};

/// Backend factories by type name, provided by the node.
pub type Catalog = BTreeMap<&'static str, Factory>;

/// Paths that are not mount points of engines the user can change.
const PROTECTED: &[&str] = &["sys/", "cubbyhole/", "identity/", "auth/"];

fn identity_entry() -> MountEntry {
    MountEntry::new("identity/", "identity", "identity store")
}

/// Both mount tables and the live routes built from them.
pub(crate) struct Mounts {
    storage: Arc<dyn Storage>,
    catalog: Arc<Catalog>,
    builtins: BTreeMap<&'static str, Arc<dyn LogicalBackend>>,
    system_ttls: (Duration, Duration),
    router: ArcSwap<Router>,
    /// Serializes changes; requests never take it.
    tables: tokio::sync::Mutex<(MountTable, MountTable)>,
    /// The tables as last published with the router.
    published: ArcSwap<(MountTable, MountTable)>,
    /// Finished moves by migration id (source, target), for `sys/remount/status`; bounded.
    migrations: std::sync::Mutex<Vec<(String, String, String)>>,
}

/// What `sys/mounts/<path>` (or `sys/auth/<path>`) asks for.
pub(crate) struct MountRequest {
    pub(crate) kind: String,
    pub(crate) description: String,
    pub(crate) config: MountConfig,
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) local: bool,
    pub(crate) seal_wrap: bool,
}

impl Mounts {
    /// Loads the tables (creating the default mounts on first unseal) and builds every route.
    pub(crate) async fn setup(
        storage: Arc<dyn Storage>,
        catalog: Arc<Catalog>,
        builtins: BTreeMap<&'static str, Arc<dyn LogicalBackend>>,
        system_ttls: (Duration, Duration),
    ) -> Result<Self, CoreError> {
        let secrets = match MountTable::load(storage.as_ref(), Table::Secrets).await? {
            // Tables written before the identity store existed gain its mount.
            Some(mut t) if !t.entries.iter().any(|e| e.path == "identity/") => {
                t.entries.push(identity_entry());
                t.store(storage.as_ref(), Table::Secrets).await?;
                t
            }
            Some(t) => t,
            None => {
                let t = MountTable {
                    v: 1,
                    entries: vec![
                        MountEntry::new(
                            "cubbyhole/",
                            "cubbyhole",
                            "per-token private secret storage",
                        ),
                        MountEntry::new(
                            "sys/",
                            "system",
                            "system endpoints used for control, policy and debugging",
                        ),
                        identity_entry(),
                    ],
                };
                t.store(storage.as_ref(), Table::Secrets).await?;
                t
            }
        };
        let auth = match MountTable::load(storage.as_ref(), Table::Auth).await? {
            Some(t) => t,
            None => {
                let t = MountTable {
                    v: 1,
                    entries: vec![MountEntry::new(
                        "token/",
                        "token",
                        "token based credentials",
                    )],
                };
                t.store(storage.as_ref(), Table::Auth).await?;
                t
            }
        };
        let mounts = Self {
            storage,
            catalog,
            builtins,
            system_ttls,
            router: ArcSwap::from_pointee(Router::default()),
            published: ArcSwap::from_pointee((secrets.clone(), auth.clone())),
            tables: tokio::sync::Mutex::new((secrets, auth)),
            migrations: std::sync::Mutex::new(Vec::new()),
        };
        {
            let tables = mounts.tables.lock().await;
            mounts.publish(&tables, None).await;
        }
        Ok(mounts)
    }

    /// The current routing snapshot.
    pub(crate) fn router(&self) -> Arc<Router> {
        self.router.load_full()
    }

    /// System default and max lease TTLs.
    pub(crate) fn system_ttls(&self) -> (Duration, Duration) {
        self.system_ttls
    }

    /// A table's entries, from the published snapshot (never waits for a mount change in progress).
    pub(crate) async fn entries(&self, table: Table) -> Vec<MountEntry> {
        let t = self.published.load();
        match table {
            Table::Secrets => t.0.entries.clone(),
            Table::Auth => t.1.entries.clone(),
        }
    }

    /// Rebuilds the routes from `tables` (reusing `built`, a route the caller already built and checked)
    /// and publishes both, for requests to read without locking.
    async fn publish(&self, tables: &(MountTable, MountTable), built: Option<Route>) {
        let router = self
            .build_router(&tables.0, &tables.1, built.map(Arc::new))
            .await;
        self.router.store(Arc::new(router));
        self.published.store(Arc::new(tables.clone()));
    }

    /// Mounts a new backend at `path` (already normalized).
    pub(crate) async fn mount(
        &self,
        table: Table,
        path: &str,
        req: MountRequest,
    ) -> Result<(), CoreError> {
        let (kind, options) = canonical_kind(&req.kind, req.options);
        if table == Table::Secrets
            && PROTECTED
                .iter()
                .any(|p| path.starts_with(p) || p.starts_with(path))
        {
            return Err(CoreError::InvalidRequest(format!(
                "cannot mount \"{path}\""
            )));
        }
        if table == Table::Auth && path == "token/" {
            return Err(CoreError::InvalidRequest(
                "token credential backend cannot be instantiated".into(),
            ));
        }
        if !self.catalog.contains_key(kind.as_str()) {
            return Err(CoreError::InvalidRequest(format!(
                "plugin not found in the catalog: {}",
                req.kind
            )));
        }

        let mut tables = self.tables.lock().await;
        let t = pick(&mut tables, table);
        if let Some(e) = t.conflict(path) {
            // OpenBao answers 400 here (not 409); clients only look at the message.
            return Err(CoreError::InvalidRequest(format!(
                "path is already in use at {}",
                e.path
            )));
        }
        let mut entry = MountEntry::new(path, &kind, &req.description);
        if table == Table::Auth {
            entry.accessor = format!("auth_{}", entry.accessor);
        }
        entry.config = req.config;
        entry.options = options;
        entry.local = req.local;
        entry.seal_wrap = req.seal_wrap;
        // Build first: a backend that cannot start is never recorded.
        let route = self.build_route(table, &entry).await?;
        t.entries.push(entry);
        t.store(self.storage.as_ref(), table).await?;

        self.publish(&tables, Some(route)).await;
        tracing::info!(path = %table.route_prefix(path), "mounted");
        Ok(())
    }

    /// Unmounts `path` and deletes its data.
    /// Refuses to unmount the built-in mounts (checked before anything is revoked).
    pub(crate) fn ensure_removable(table: Table, path: &str) -> Result<(), CoreError> {
        if table == Table::Secrets && PROTECTED.iter().any(|p| p == &path) {
            return Err(CoreError::InvalidRequest(format!(
                "cannot unmount \"{path}\""
            )));
        }
        if table == Table::Auth && path == "token/" {
            return Err(CoreError::InvalidRequest(
                "token credential backend cannot be disabled".into(),
            ));
        }
        Ok(())
    }

    pub(crate) async fn unmount(&self, table: Table, path: &str) -> Result<(), CoreError> {
        Self::ensure_removable(table, path)?;
        let mut tables = self.tables.lock().await;
        let t = pick(&mut tables, table);
        let Some(pos) = t.entries.iter().position(|e| e.path == path) else {
            // OpenBao answers success for a path with nothing mounted.
            return Ok(());
        };
        let entry = t.entries.remove(pos);
        t.store(self.storage.as_ref(), table).await?;
        let old = self.router();
        self.publish(&tables, None).await;
        drop(tables);
        if let Some(r) = old.routes().iter().find(|r| r.entry.uuid == entry.uuid) {
            r.backend.cleanup().await;
        }
        delete_prefix(&self.view_for(table, &entry)).await?;
        tracing::info!(path = %table.route_prefix(path), "unmounted");
        Ok(())
    }

    /// Changes a mount's TTLs, description or options; rebuilds its backend.
    pub(crate) async fn tune(
        &self,
        table: Table,
        path: &str,
        change: impl FnOnce(&mut MountEntry) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        let mut tables = self.tables.lock().await;
        let t = pick(&mut tables, table);
        let Some(entry) = t.entries.iter_mut().find(|e| e.path == path) else {
            return Err(CoreError::InvalidRequest(format!("no mount at \"{path}\"")));
        };
        let before = entry.clone();
        change(entry)?;
        if *entry != before {
            let candidate = entry.clone();
            let built = match self.build_route(table, &candidate).await {
                Ok(route) => route,
                Err(e) => {
                    if let Some(entry) = pick(&mut tables, table)
                        .entries
                        .iter_mut()
                        .find(|e| e.path == path)
                    {
                        *entry = before;
                    }
                    return Err(e);
                }
            };
            pick(&mut tables, table)
                .store(self.storage.as_ref(), table)
                .await?;
            self.publish(&tables, Some(built)).await;
        }
        Ok(())
    }

    /// Remembers a finished move (the last 100).
    pub(crate) fn record_migration(&self, id: &str, from: &str, to: &str) {
        if let Ok(mut m) = self.migrations.lock() {
            if m.len() >= 100 {
                m.remove(0);
            }
            m.push((id.to_owned(), from.to_owned(), to.to_owned()));
        }
    }

    /// A recorded move's source and target.
    pub(crate) fn migration(&self, id: &str) -> Option<(String, String)> {
        let m = self.migrations.lock().ok()?;
        m.iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, f, t)| (f.clone(), t.clone()))
    }

    /// Moves a mount to a new path; its data stays where it is (storage is keyed by uuid).
    pub(crate) async fn remount(
        &self,
        table: Table,
        from: &str,
        to: &str,
    ) -> Result<(), CoreError> {
        let mut tables = self.tables.lock().await;
        let t = pick(&mut tables, table);
        if t.get(from).is_none() {
            return Err(CoreError::InvalidRequest(format!(
                "no matching mount at \"{from}\""
            )));
        }
        if PROTECTED.iter().any(|p| p == &from) || (table == Table::Auth && from == "token/") {
            return Err(CoreError::InvalidRequest(format!(
                "cannot remount \"{from}\""
            )));
        }
        if table == Table::Secrets && PROTECTED.iter().any(|p| to.starts_with(p)) {
            return Err(CoreError::InvalidRequest(format!(
                "cannot remount to destination {to}"
            )));
        }
        if let Some(e) = t
            .entries
            .iter()
            .filter(|e| e.path != from)
            .find(|e| to.starts_with(&e.path) || e.path.starts_with(to))
        {
            return Err(CoreError::InvalidRequest(format!(
                "path already in use at \"{}\"",
                e.path
            )));
        }
        if let Some(e) = t.entries.iter_mut().find(|e| e.path == from) {
            e.path = to.to_owned();
        }
        t.store(self.storage.as_ref(), table).await?;
        self.publish(&tables, None).await;
        Ok(())
    }

    fn view_for(&self, table: Table, entry: &MountEntry) -> View {
        let prefix = match table {
            Table::Secrets => paths::LOGICAL_PREFIX,
            Table::Auth => paths::AUTH_PREFIX,
        };
        View::new(self.storage.clone(), format!("{prefix}{}/", entry.uuid))
    }

    async fn build_route(&self, table: Table, entry: &MountEntry) -> Result<Route, CoreError> {
        let view = self.view_for(table, entry);
        let (default_lease_ttl, max_lease_ttl) = entry.ttls(self.system_ttls.0, self.system_ttls.1);
        let info = MountInfo {
            path: table.route_prefix(&entry.path),
            kind: entry.kind.clone(),
            uuid: entry.uuid.clone(),
            accessor: entry.accessor.clone(),
            options: entry.options.clone(),
            default_lease_ttl,
            max_lease_ttl,
        };
        let backend = match self.builtins.get(entry.kind.as_str()) {
            Some(b) => b.clone(),
            None => {
                let factory = self.catalog.get(entry.kind.as_str()).ok_or_else(|| {
                    CoreError::InvalidRequest(format!(
                        "plugin not found in the catalog: {}",
                        entry.kind
                    ))
                })?;
                factory(BackendConfig {
                    mount: info.clone(),
                    storage: view.clone(),
                })
                .await
                .map_err(CoreError::from)?
            }
        };
        let paths = PathRouter::new(backend.paths()).map_err(CoreError::from)?;
        Ok(Route {
            table,
            prefix: info.path.clone(),
            entry: entry.clone(),
            backend,
            paths,
            view,
            info,
        })
    }

    async fn build_router(
        &self,
        secrets: &MountTable,
        auth: &MountTable,
        built: Option<Arc<Route>>,
    ) -> Router {
        let mut routes = Vec::new();
        let current = self.router();
        let reusable: Vec<Arc<Route>> = current.routes().iter().cloned().chain(built).collect();
        for (table, t) in [(Table::Secrets, secrets), (Table::Auth, auth)] {
            for e in &t.entries {
                if e.kind == "system" {
                    continue;
                }
                // Unchanged mounts keep their backend (and its pools and caches).
                if let Some(r) = reusable.iter().find(|r| r.entry == *e && r.table == table) {
                    routes.push(r.clone());
                    continue;
                }
                match self.build_route(table, e).await {
                    Ok(r) => routes.push(Arc::new(r)),
                    Err(err) => {
                        tracing::error!(path = %table.route_prefix(&e.path), error = %err, "mount could not be set up; it is unavailable")
                    }
                }
            }
        }
        Router::new(routes)
    }
}

fn pick(tables: &mut (MountTable, MountTable), table: Table) -> &mut MountTable {
    match table {
        Table::Secrets => &mut tables.0,
        Table::Auth => &mut tables.1,
    }
}

/// `kv-v1`/`kv-v2` are `kv` with a version option, as in OpenBao.
fn canonical_kind(
    kind: &str,
    mut options: BTreeMap<String, String>,
) -> (String, BTreeMap<String, String>) {
    match kind {
        "kv-v1" => {
            options.insert("version".into(), "1".into());
            ("kv".into(), options)
        }
        "kv-v2" => {
            options.insert("version".into(), "2".into());
            ("kv".into(), options)
        }
        other => (other.to_owned(), options),
    }
}

/// Deletes every key under a view, in batches.
pub(crate) async fn delete_prefix(view: &View) -> Result<(), CoreError> {
    let mut stack = vec![String::new()];
    let mut ops = Vec::new();
    while let Some(prefix) = stack.pop() {
        for child in view.list(&prefix).await? {
            let full = format!("{prefix}{child}");
            if child.ends_with('/') {
                stack.push(full);
            } else {
                ops.push(Op::Delete { key: full });
                if ops.len() >= 512 {
                    view.batch(std::mem::take(&mut ops)).await?;
                }
            }
        }
    }
    if !ops.is_empty() {
        view.batch(ops).await?;
    }
    Ok(())
}
