//! `redis://HOST[:PORT][/DB][?prefix=P]`: records shared by several steptalk
//! instances.
//!
//! A record is a hash `{P}rec:{scenario}:{user}` with fields `v` (version) and
//! `d` (the JSON); a Lua script compares the version and writes in one step.
//! A lock is `{P}lock:{scenario}:{user}`, taken with `SET NX PX ttl` holding a
//! random token and released by a compare-and-delete script, so a holder
//! whose lock expired can never free someone else's. The connection is a
//! [`ConnectionManager`] (reconnects by itself), created lazily so a server
//! that is down at start-up is picked up when it comes back.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{
    decode, encode, lock_token, BackendLock, Record, Store, StoreError, StoreOptions, UserKey,
    UserLock, Vars,
};

const BACKEND: &str = "redis";

/// Writes `ARGV[2]` as version `ARGV[1] + 1` if the version is still `ARGV[1]`;
/// returns the new version, or -1 on a conflict.
const SAVE_SCRIPT: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
return v + 1
";

/// Deletes the lock only if it still holds our token.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The Redis store; see the module docs.
pub(crate) struct RedisStore {
    client: redis::Client,
    /// `None` until the first successful connection. The manager itself
    /// reconnects after that.
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    prefix: String,
    options: StoreOptions,
    save_script: Script,
    release_script: Script,
}

fn error(err: impl std::fmt::Display) -> StoreError {
    StoreError::unavailable(BACKEND, err)
}

/// Escapes the separator so `a:b` + `c` and `a` + `b:c` stay different keys.
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

impl RedisStore {
    pub(crate) async fn open(
        url: &str,
        options: StoreOptions,
    ) -> Result<Box<dyn Store>, StoreError> {
        let bad = |why: &dyn std::fmt::Display| StoreError::Url(url.to_string(), why.to_string());
        let (parsed, prefix) = super::split_store_url(url, "prefix")?;
        let prefix = prefix.unwrap_or_else(|| "steptalk:".to_string());
        let client = redis::Client::open(parsed.as_str()).map_err(|err| bad(&err))?;
        let store = RedisStore {
            client,
            conn: tokio::sync::Mutex::new(None),
            prefix,
            options,
            save_script: Script::new(SAVE_SCRIPT),
            release_script: Script::new(RELEASE_SCRIPT),
        };
        if let Err(err) = store.health().await {
            tracing::warn!(error = %err, "user store not ready yet");
        }
        Ok(Box::new(store))
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(conn) = &*self.conn.lock().await {
            return Ok(conn.clone());
        }
        // Connect without holding the slot, so requests arriving while Redis
        // hangs each wait one timeout, not one per request queued before them.
        let timeout = self.options.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            // No retries with back-off inside the manager (its minimum delay
            // is a second): a failed attempt fails this operation at once and
            // the next operation tries again.
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(error)?;
        // If another request connected meanwhile, keep its manager.
        Ok(self.conn.lock().await.get_or_insert(conn).clone())
    }

    fn record_key(&self, key: &UserKey) -> String {
        format!(
            "{}rec:{}:{}",
            self.prefix,
            escape(&key.scenario),
            escape(&key.user_id)
        )
    }

    fn lock_key(&self, key: &UserKey) -> String {
        format!(
            "{}lock:{}:{}",
            self.prefix,
            escape(&key.scenario),
            escape(&key.user_id)
        )
    }
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        let mut conn = self.conn().await?;
        let (version, data): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.record_key(key))
            .arg("v")
            .arg("d")
            .query_async(&mut conn)
            .await
            .map_err(error)?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(Record {
                vars: decode(BACKEND, &data)?,
                version,
            }),
            _ => Ok(Record::default()),
        }
    }

    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let json = encode(vars, self.options.max_record_bytes)?;
        let mut conn = self.conn().await?;
        let version: i64 = self
            .save_script
            .key(self.record_key(key))
            .arg(expected_version)
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .map_err(error)?;
        u64::try_from(version).map_err(|_| StoreError::Conflict)
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let lock_key = self.lock_key(key);
        let token = lock_token();
        // PX 0 is an error in Redis; a lock always lives at least 1 ms.
        let ttl_ms = u64::try_from(self.options.lock_ttl.as_millis().max(1)).unwrap_or(u64::MAX);
        let conn = self.conn().await?;
        let (lock_key_ref, token_ref, conn_ref) = (&lock_key, &token, &conn);
        super::poll_lock(wait, move || async move {
            // The manager is a cheap handle onto one multiplexed connection.
            let mut conn = conn_ref.clone();
            let reply: redis::Value = redis::cmd("SET")
                .arg(lock_key_ref)
                .arg(token_ref)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut conn)
                .await
                .map_err(error)?;
            Ok(reply != redis::Value::Nil)
        })
        .await?;
        Ok(BackendLock::boxed(unlock(
            conn,
            self.release_script.clone(),
            lock_key,
            token,
        )))
    }

    async fn health(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(error)?;
        Ok(())
    }
}

/// Frees a lock: deletes the key only if it still holds `token`.
async fn unlock(
    mut conn: ConnectionManager,
    script: Script,
    key: String,
    token: String,
) -> Result<(), StoreError> {
    let _: i64 = script
        .key(key)
        .arg(token)
        .invoke_async(&mut conn)
        .await
        .map_err(error)?;
    Ok(())
}
