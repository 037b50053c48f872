//! `sqlite://PATH`: the default store, one file, bundled SQLite in WAL mode.
//!
//! SQLite calls block, so each operation runs on tokio's blocking pool over a
//! single connection (SQLite serializes writers anyway). The connection is
//! opened lazily and dropped after any error, so a file that was unreachable
//! (missing directory, full disk) is picked up again without a restart.
//! Per-user locks are rows with an expiry, taken in `BEGIN IMMEDIATE`
//! transactions, so they hold across every process sharing the file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    decode, encode, lock_token, BackendLock, Record, Store, StoreError, StoreOptions, UserKey,
    UserLock, Vars,
};

const BACKEND: &str = "sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS steptalk_records (
    scenario   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    vars       TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (scenario, user_id)
);
CREATE TABLE IF NOT EXISTS steptalk_locks (
    scenario   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    token      TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (scenario, user_id)
);
";

/// The SQLite store; see the module docs.
pub(crate) struct SqliteStore {
    db: Arc<Db>,
    options: StoreOptions,
}

/// The file and its (lazily opened) connection, shared with blocking tasks.
struct Db {
    path: PathBuf,
    busy_timeout: Duration,
    /// `None` until the first successful open and after any error. Held only
    /// inside blocking tasks, never across `.await`.
    conn: Mutex<Option<Connection>>,
}

impl Db {
    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Another process may hold the write lock briefly; wait for it up to
        // the timeout instead of failing at once.
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(conn)
    }

    /// Runs `f` on the connection, opening it first if needed.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut slot = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.connect().map_err(|err| self.error(err))?,
        };
        let result = f(&mut conn).map_err(|err| self.error(err));
        // After an error the connection may be stale (file replaced, disk
        // error); reopening costs little and makes recovery automatic.
        if result.is_ok() {
            *slot = Some(conn);
        }
        result
    }

    fn error(&self, err: rusqlite::Error) -> StoreError {
        StoreError::unavailable(BACKEND, format!("{}: {err}", self.path.display()))
    }

    fn unlock(&self, key: &UserKey, token: &str) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.execute(
                "DELETE FROM steptalk_locks WHERE scenario = ?1 AND user_id = ?2 AND token = ?3",
                params![key.scenario, key.user_id, token],
            )
            .map(drop)
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteStore {
    pub(crate) async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let path = url.strip_prefix("sqlite://").unwrap_or_default();
        if path.is_empty() {
            return Err(StoreError::Url(
                url.to_string(),
                "expected sqlite://PATH, e.g. sqlite://steptalk.db".to_string(),
            ));
        }
        let store = SqliteStore {
            db: Arc::new(Db {
                path: PathBuf::from(path),
                busy_timeout: options.timeout,
                conn: Mutex::new(None),
            }),
            options,
        };
        // Create the schema now when possible; if the file is unreachable the
        // store still opens and reports itself unavailable until it is back.
        if let Err(err) = store.health().await {
            tracing::warn!(error = %err, "user store not ready yet");
        }
        Ok(store)
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.with_conn(f))
            .await
            .map_err(|err| StoreError::unavailable(BACKEND, err))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        let key = key.clone();
        let row = self
            .run(move |conn| {
                conn.query_row(
                    "SELECT version, vars FROM steptalk_records WHERE scenario = ?1 AND user_id = ?2",
                    params![key.scenario, key.user_id],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
                )
                .optional()
            })
            .await?;
        match row {
            None => Ok(Record::default()),
            Some((version, vars)) => Ok(Record {
                vars: decode(BACKEND, &vars)?,
                version: u64::try_from(version).unwrap_or(0),
            }),
        }
    }

    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let json = encode(vars, self.options.max_record_bytes)?;
        let key = key.clone();
        let written = self
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = if expected_version == 0 {
                    tx.execute(
                        "INSERT INTO steptalk_records (scenario, user_id, version, vars, updated_ms)
                         VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT DO NOTHING",
                        params![key.scenario, key.user_id, json, now_ms()],
                    )?
                } else {
                    tx.execute(
                        "UPDATE steptalk_records SET version = version + 1, vars = ?3, updated_ms = ?4
                         WHERE scenario = ?1 AND user_id = ?2 AND version = ?5",
                        params![
                            key.scenario,
                            key.user_id,
                            json,
                            now_ms(),
                            to_i64(expected_version)
                        ],
                    )?
                };
                tx.commit()?;
                Ok(n == 1)
            })
            .await?;
        if written {
            Ok(expected_version + 1)
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let token = lock_token();
        let ttl_ms = i64::try_from(self.options.lock_ttl.as_millis()).unwrap_or(i64::MAX);
        let token_ref = &token;
        super::poll_lock(wait, move || {
            let (key, token) = (key.clone(), token_ref.clone());
            self.run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now_ms();
                // Insert the lock row, or take over one that has expired.
                let n = tx.execute(
                    "INSERT INTO steptalk_locks (scenario, user_id, token, expires_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (scenario, user_id) DO UPDATE
                       SET token = excluded.token, expires_ms = excluded.expires_ms
                       WHERE steptalk_locks.expires_ms <= ?5",
                    params![
                        key.scenario,
                        key.user_id,
                        token,
                        now.saturating_add(ttl_ms),
                        now
                    ],
                )?;
                tx.commit()?;
                Ok(n == 1)
            })
        })
        .await?;
        let (db, key) = (self.db.clone(), key.clone());
        Ok(BackendLock::boxed(async move {
            tokio::task::spawn_blocking(move || db.unlock(&key, &token))
                .await
                .map_err(|err| StoreError::unavailable(BACKEND, err))?
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}
