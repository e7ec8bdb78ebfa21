//! A small connection pool shared by both drivers: a semaphore caps open connections
//! (`max_open_connections`), an idle list keeps up to `max_idle_connections`, connections older than
//! `max_connection_lifetime` are not reused. Connecting is one attempt with the driver's own timeout, so a
//! database that is down fails the call at once with its real reason (a pool that retries until a deadline
//! would hold a lease revocation for that long and report only "timed out").

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::driver::DriverError;

/// How long a call waits for a free connection when all are in use.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens and checks connections of one kind.
#[async_trait]
pub(crate) trait Connector: Send + Sync {
    /// A connection.
    type Conn: Send;

    /// Opens a new connection (one attempt).
    async fn connect(&self) -> Result<Self::Conn, DriverError>;

    /// Whether an idle connection can be handed out again (may ping).
    async fn healthy(&self, conn: &mut Self::Conn) -> bool;

    /// Whether a returned connection may go back to the idle list (cheap, no I/O).
    fn reusable(&self, conn: &Self::Conn) -> bool;
}

/// The pool.
pub(crate) struct Pool<C: Connector> {
    connector: C,
    idle: Mutex<Vec<(C::Conn, Instant)>>,
    permits: Semaphore,
    max_idle: usize,
    lifetime: Option<Duration>,
    closed: AtomicBool,
}

impl<C: Connector> Pool<C> {
    pub(crate) fn new(
        connector: C,
        max_open: u32,
        max_idle: u32,
        lifetime: Option<Duration>,
    ) -> Self {
        Self {
            connector,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(usize::try_from(max_open.max(1)).unwrap_or(1)),
            max_idle: usize::try_from(max_idle).unwrap_or(0),
            lifetime,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn connector(&self) -> &C {
        &self.connector
    }

    /// A connection: a healthy idle one young enough, or a new one.
    pub(crate) async fn get(&self) -> Result<Pooled<'_, C>, DriverError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DriverError::Unavailable("connection pool is closed".into()));
        }
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| {
                DriverError::Unavailable("timed out waiting for a free database connection".into())
            })?
            .map_err(|_| DriverError::Unavailable("connection pool is closed".into()))?;
        loop {
            let candidate = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some((mut conn, born)) = candidate else {
                break;
            };
            if !self.expired(born) && self.connector.healthy(&mut conn).await {
                return Ok(Pooled {
                    conn: Some(conn),
                    born,
                    pool: self,
                    _permit: permit,
                });
            }
        }
        let conn = self.connector.connect().await?;
        Ok(Pooled {
            conn: Some(conn),
            born: Instant::now(),
            pool: self,
            _permit: permit,
        })
    }

    fn expired(&self, born: Instant) -> bool {
        self.lifetime.is_some_and(|l| born.elapsed() >= l)
    }

    /// Refuses further calls and drops the idle connections.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(idle);
    }
}

/// A connection on loan; back to the idle list on drop unless broken, expired or over the idle cap.
pub(crate) struct Pooled<'a, C: Connector> {
    conn: Option<C::Conn>,
    born: Instant,
    pool: &'a Pool<C>,
    _permit: SemaphorePermit<'a>,
}

impl<C: Connector> Deref for Pooled<'_, C> {
    type Target = C::Conn;

    #[allow(clippy::expect_used, reason = "the connection is only taken by Drop")]
    fn deref(&self) -> &C::Conn {
        self.conn
            .as_ref()
            .expect("pooled connection present until dropped")
    }
}

impl<C: Connector> DerefMut for Pooled<'_, C> {
    #[allow(clippy::expect_used, reason = "the connection is only taken by Drop")]
    fn deref_mut(&mut self) -> &mut C::Conn {
        self.conn
            .as_mut()
            .expect("pooled connection present until dropped")
    }
}

impl<C: Connector> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let pool = self.pool;
        if pool.closed.load(Ordering::Acquire)
            || pool.expired(self.born)
            || !pool.connector.reusable(&conn)
        {
            return;
        }
        let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < pool.max_idle {
            idle.push((conn, self.born));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts connections; a connection is a number, "broken" when odd if `break_odd`.
    #[derive(Default)]
    struct Counter {
        opened: AtomicUsize,
        break_odd: bool,
    }

    #[async_trait]
    impl Connector for Counter {
        type Conn = usize;

        async fn connect(&self) -> Result<usize, DriverError> {
            Ok(self.opened.fetch_add(1, Ordering::SeqCst))
        }

        async fn healthy(&self, conn: &mut usize) -> bool {
            !(self.break_odd && *conn % 2 == 1)
        }

        fn reusable(&self, _conn: &usize) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn reuses_idle_connections_up_to_the_cap() {
        let pool = Pool::new(Counter::default(), 2, 1, None);
        {
            let a = pool.get().await.unwrap();
            let b = pool.get().await.unwrap();
            assert_eq!((*a, *b), (0, 1));
            // Both permits taken: a third caller waits (here: gives up quickly).
            assert!(
                tokio::time::timeout(Duration::from_millis(50), pool.get())
                    .await
                    .is_err()
            );
        }
        // Only one went back to the idle list.
        assert_eq!(*pool.get().await.unwrap(), 1);
        assert_eq!(*pool.get().await.unwrap(), 1);
        pool.close();
        assert!(pool.get().await.is_err());
    }

    #[tokio::test]
    async fn skips_unhealthy_and_expired_connections() {
        let pool = Pool::new(
            Counter {
                break_odd: true,
                ..Counter::default()
            },
            2,
            2,
            None,
        );
        drop((pool.get().await.unwrap(), pool.get().await.unwrap()));
        // 1 is unhealthy and dropped; 0 is handed out.
        assert_eq!(*pool.get().await.unwrap(), 0);

        let pool = Pool::new(Counter::default(), 1, 1, Some(Duration::ZERO));
        drop(pool.get().await.unwrap());
        assert_eq!(
            *pool.get().await.unwrap(),
            1,
            "an expired connection is not reused"
        );
    }
}
