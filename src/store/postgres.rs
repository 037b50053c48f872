//! `postgres://USER@HOST[:PORT]/DB[?schema=S]`: records shared by several
//! steptalk instances, in tables of schema `S` (default `public`).
//!
//! The schema is created or migrated on the first successful connection,
//! under a transaction-scoped advisory lock so instances starting together
//! don't race, and recorded in `steptalk_schema` (one row per applied
//! migration). Locks are rows with an expiry in `steptalk_locks` rather than
//! advisory locks: an advisory lock belongs to a connection, which a pool
//! would hand to another turn, and a lock row also expires when its holder
//! hangs instead of dying. Connections come from a `deadpool-postgres` pool
//! with create and wait timeouts, so a database that is down makes operations
//! fail quickly and a new connection is tried on the next one.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

use super::{
    decode, encode, lock_token, BackendLock, Record, Store, StoreError, StoreOptions, UserKey,
    UserLock, Vars,
};

const BACKEND: &str = "postgres";

/// Schema migrations, applied in order; `{s}` is the quoted schema name.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &["
CREATE TABLE {s}.steptalk_records (
    scenario   text        NOT NULL,
    user_id    text        NOT NULL,
    version    bigint      NOT NULL,
    vars       json        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scenario, user_id)
);
CREATE TABLE {s}.steptalk_locks (
    scenario   text        NOT NULL,
    user_id    text        NOT NULL,
    token      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scenario, user_id)
);
"];

/// The statements, with the schema filled in once at open.
struct Sql {
    load: String,
    insert: String,
    update: String,
    lock: String,
    unlock: String,
}

impl Sql {
    fn new(s: &str) -> Self {
        Sql {
            load: format!(
                "SELECT version, vars::text FROM {s}.steptalk_records
                 WHERE scenario = $1 AND user_id = $2"
            ),
            insert: format!(
                "INSERT INTO {s}.steptalk_records (scenario, user_id, version, vars)
                 VALUES ($1, $2, 1, $3::text::json) ON CONFLICT DO NOTHING"
            ),
            update: format!(
                "UPDATE {s}.steptalk_records
                 SET version = version + 1, vars = $3::text::json, updated_at = now()
                 WHERE scenario = $1 AND user_id = $2 AND version = $4"
            ),
            // Insert the lock row, or take over one that has expired.
            lock: format!(
                "INSERT INTO {s}.steptalk_locks AS l (scenario, user_id, token, expires_at)
                 VALUES ($1, $2, $3, clock_timestamp() + $4::bigint * interval '1 millisecond')
                 ON CONFLICT (scenario, user_id) DO UPDATE
                   SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
                   WHERE l.expires_at <= clock_timestamp()"
            ),
            unlock: format!(
                "DELETE FROM {s}.steptalk_locks WHERE scenario = $1 AND user_id = $2 AND token = $3"
            ),
        }
    }
}

/// The PostgreSQL store; see the module docs.
pub(crate) struct PostgresStore {
    pool: Pool,
    /// The quoted schema name.
    schema: String,
    sql: std::sync::Arc<Sql>,
    /// Set once the schema is migrated; retried after a failure.
    ready: OnceCell<()>,
    options: StoreOptions,
}

fn error(err: impl std::error::Error) -> StoreError {
    // tokio-postgres says only "db error" at the top; the server's reason is in the source.
    StoreError::unavailable(BACKEND, crate::errors::error_chain(&err))
}

impl PostgresStore {
    pub(crate) async fn open(
        url: &str,
        options: StoreOptions,
    ) -> Result<Box<dyn Store>, StoreError> {
        let bad = |why: &dyn std::fmt::Display| StoreError::Url(url.to_string(), why.to_string());
        let (parsed, schema) = super::split_store_url(url, "schema")?;
        let schema = schema.unwrap_or_else(|| "public".to_string());
        let valid = schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(bad(&format_args!(
                "schema `{schema}` must be lowercase letters, digits and `_`"
            )));
        }
        let mut config =
            tokio_postgres::Config::from_str(parsed.as_str()).map_err(|err| bad(&err))?;
        config.connect_timeout(options.timeout);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(options.timeout);
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .create_timeout(timeout)
            .wait_timeout(timeout)
            .recycle_timeout(timeout)
            .build()
            .map_err(|err| bad(&err))?;
        let schema = format!("\"{schema}\"");
        let store = PostgresStore {
            pool,
            sql: std::sync::Arc::new(Sql::new(&schema)),
            schema,
            ready: OnceCell::new(),
            options,
        };
        if let Err(err) = store.health().await {
            tracing::warn!(error = %err, "user store not ready yet");
        }
        Ok(Box::new(store))
    }

    /// A pooled connection, with the schema migrated.
    async fn client(&self) -> Result<Object, StoreError> {
        let mut client = self.pool.get().await.map_err(error)?;
        self.ready
            .get_or_try_init(|| within(self.options.timeout, migrate(&mut client, &self.schema)))
            .await?;
        Ok(client)
    }
}

/// Creates the schema and applies the migrations it lacks.
async fn migrate(client: &mut Object, schema: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(error)?;
    // Serializes concurrent start-ups; released at commit.
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('steptalk_schema'));
         CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.steptalk_schema (
             version    integer     PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(error)?;
    let row = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.steptalk_schema"),
            &[],
        )
        .await
        .map_err(error)?;
    let current: i32 = row.get(0);
    for (version, migration) in (1..).zip(MIGRATIONS) {
        if version <= current {
            continue;
        }
        tx.batch_execute(&migration.replace("{s}", schema))
            .await
            .map_err(error)?;
        tx.execute(
            &format!("INSERT INTO {schema}.steptalk_schema (version) VALUES ($1)"),
            &[&version],
        )
        .await
        .map_err(error)?;
    }
    tx.commit().await.map_err(error)
}

/// Bounds one call: tokio-postgres has no client-side timeout, and a
/// database that stops answering must not hang the turn.
async fn within<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::unavailable(
                BACKEND,
                format_args!("no answer within {timeout:?}"),
            ))
        })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        let row = within(self.options.timeout, async {
            let client = self.client().await?;
            client
                .query_opt(&self.sql.load, &[&key.scenario, &key.user_id])
                .await
                .map_err(error)
        })
        .await?;
        match row {
            None => Ok(Record::default()),
            Some(row) => Ok(Record {
                vars: decode(BACKEND, row.get::<_, &str>(1))?,
                version: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
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
        let written = within(self.options.timeout, async {
            let client = self.client().await?;
            if expected_version == 0 {
                client
                    .execute(&self.sql.insert, &[&key.scenario, &key.user_id, &json])
                    .await
            } else {
                let expected = to_i64(expected_version);
                client
                    .execute(
                        &self.sql.update,
                        &[&key.scenario, &key.user_id, &json, &expected],
                    )
                    .await
            }
            .map_err(error)
        })
        .await?;
        if written == 1 {
            Ok(expected_version + 1)
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let token = lock_token();
        let ttl_ms = i64::try_from(self.options.lock_ttl.as_millis()).unwrap_or(i64::MAX);
        let token_ref = &token;
        let ttl_ref = &ttl_ms;
        super::poll_lock(wait, move || async move {
            // A connection per attempt: none is held while waiting.
            let taken = within(self.options.timeout, async {
                self.client()
                    .await?
                    .execute(
                        &self.sql.lock,
                        &[&key.scenario, &key.user_id, token_ref, ttl_ref],
                    )
                    .await
                    .map_err(error)
            })
            .await?;
            Ok(taken == 1)
        })
        .await?;
        Ok(BackendLock::boxed(unlock(
            self.pool.clone(),
            self.sql.clone(),
            key.clone(),
            token,
            self.options.timeout,
        )))
    }

    async fn health(&self) -> Result<(), StoreError> {
        within(self.options.timeout, async {
            let client = self.client().await?;
            client.execute("SELECT 1", &[]).await.map_err(error)
        })
        .await
        .map(drop)
    }
}

async fn unlock(
    pool: Pool,
    sql: std::sync::Arc<Sql>,
    key: UserKey,
    token: String,
    timeout: Duration,
) -> Result<(), StoreError> {
    within(timeout, async {
        let client = pool.get().await.map_err(error)?;
        client
            .execute(&sql.unlock, &[&key.scenario, &key.user_id, &token])
            .await
            .map_err(error)
    })
    .await
    .map(drop)
}
