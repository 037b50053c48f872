//! One suite run against every store backend: `memory`, `sqlite`, and — when
//! `STEPTALK_TEST_REDIS_URL` / `STEPTALK_TEST_POSTGRES_URL` are set — `redis`
//! and `postgres` (each run in a fresh key prefix or schema). Tests are named
//! `<backend>::<case>`, so `cargo test --test store sqlite::` runs one backend.

#[path = "store/support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use steptalk::store::{with_user, Store, StoreError, StoreOptions, UserKey, Vars, WithUserError};
use support::{closed_port, silent_server, Backend, Proxy};

/// Each case as a test function in a module per backend.
macro_rules! suite {
    ($($backend:ident),* $(,)?) => {$(
        mod $backend {
            suite!(@cases $backend:
                roundtrip, version_conflict, lock_exclusion, lock_handover, lock_expiry,
                waiters_in_order,
                size_limit, concurrent_increments, failed_turn_saves_nothing,
                lost_race_reruns_turn, unavailable_then_recovery, two_processes);
        }
    )*};
    (@cases $backend:ident: $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let Some(backend) = super::Backend::new(stringify!($backend)) else { return };
            super::$case(&backend).await;
            backend.cleanup().await;
        }
    )*};
}

suite!(memory, sqlite, redis, postgres);

fn vars(value: Value) -> Vars {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn key(user: &str) -> UserKey {
    UserKey::new("quiz", user)
}

/// Options with short lock expiry, so expiry tests stay quick.
fn options() -> StoreOptions {
    StoreOptions {
        lock_ttl: Duration::from_millis(500),
        ..StoreOptions::default()
    }
}

/// Options with a short backend timeout, for the "backend hangs" cases.
fn quick() -> StoreOptions {
    StoreOptions {
        timeout: Duration::from_millis(300),
        ..options()
    }
}

async fn roundtrip(backend: &Backend) {
    let store = backend.open(options()).await;
    store.health().await.unwrap();
    let alice = key("amzn1.ask.account.ALICE");
    let empty = store.load(&alice).await.unwrap();
    assert_eq!((empty.version, empty.vars.len()), (0, 0));

    let first = vars(
        json!({"name": "Zoë", "score": 3, "ratio": 0.5, "done": false,
        "nothing": null, "list": [1, "two", {"three": 3}], "nested": {"a": {"b": "c"}}}),
    );
    assert_eq!(store.save(&alice, &first, 0).await.unwrap(), 1);
    let loaded = store.load(&alice).await.unwrap();
    assert_eq!((loaded.version, &loaded.vars), (1, &first));

    let second = vars(json!({"score": 4}));
    assert_eq!(store.save(&alice, &second, 1).await.unwrap(), 2);
    assert_eq!(store.load(&alice).await.unwrap().vars, second);

    // Another user, and the same user in another scenario, are separate records.
    assert_eq!(store.load(&key("BOB")).await.unwrap().version, 0);
    let other = UserKey::new("account-linking", alice.user_id.clone());
    assert_eq!(store.load(&other).await.unwrap().version, 0);
    // Separators in names cannot make two keys collide.
    let tricky = UserKey::new("quiz:amzn1.ask.account", "ALICE");
    assert_eq!(store.load(&tricky).await.unwrap().version, 0);
}

async fn version_conflict(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("conflict");
    store.save(&user, &vars(json!({"n": 1})), 0).await.unwrap();
    store.save(&user, &vars(json!({"n": 2})), 1).await.unwrap();
    for stale in [0, 1, 3] {
        let err = store.save(&user, &vars(json!({"n": 99})), stale).await;
        assert!(
            matches!(err, Err(StoreError::Conflict)),
            "expected version {stale}: {err:?}"
        );
    }
    let record = store.load(&user).await.unwrap();
    assert_eq!((record.version, record.vars), (2, vars(json!({"n": 2}))));
}

async fn lock_exclusion(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("lock");
    let held = store.lock(&user, Duration::from_secs(1)).await.unwrap();
    let err = store.lock(&user, Duration::from_millis(100)).await;
    assert!(matches!(err, Err(StoreError::LockTimeout)), "{err:?}");
    // Other users are not affected.
    let bob = store.lock(&key("lock-bob"), Duration::ZERO).await.unwrap();
    bob.release().await.unwrap();
    held.release().await.unwrap();
    let again = store.lock(&user, Duration::ZERO).await.unwrap();
    again.release().await.unwrap();
}

async fn lock_handover(backend: &Backend) {
    let store = backend.open(StoreOptions::default()).await;
    let other = backend.open(StoreOptions::default()).await;
    let user = key("handover");
    let held = store.lock(&user, Duration::from_secs(1)).await.unwrap();
    let waiter = {
        let user = user.clone();
        tokio::spawn(async move { other.lock(&user, Duration::from_secs(20)).await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.release().await.unwrap();
    waiter.await.unwrap().unwrap();
}

async fn lock_expiry(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("expiry");
    let held = store.lock(&user, Duration::from_secs(1)).await.unwrap();
    // The holder dies: it never releases, not even on drop.
    std::mem::forget(held);
    let err = store.lock(&user, Duration::ZERO).await;
    assert!(matches!(err, Err(StoreError::LockTimeout)), "{err:?}");
    // After lock_ttl (500 ms) the lock is free again.
    let taken = store.lock(&user, Duration::from_secs(10)).await.unwrap();
    taken.release().await.unwrap();
}

/// Turns of one user waiting in one process get the lock in the order they
/// asked for it: a polled lock alone would let late waiters overtake (and an
/// unlucky one wait until its lock wait runs out).
async fn waiters_in_order(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("queue");
    let held = store.lock(&user, Duration::from_secs(1)).await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..5 {
        let (store, user, order) = (store.clone(), user.clone(), order.clone());
        waiters.push(tokio::spawn(async move {
            let lock = store.lock(&user, Duration::from_secs(20)).await.unwrap();
            order.lock().unwrap().push(i);
            // Hold it a little, so a waiter that polls has time to overtake.
            tokio::time::sleep(Duration::from_millis(20)).await;
            lock.release().await.unwrap();
        }));
        // Each waiter is in line before the next one asks.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    held.release().await.unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

async fn size_limit(backend: &Backend) {
    let store = backend
        .open(StoreOptions {
            max_record_bytes: 100,
            ..options()
        })
        .await;
    let user = key("size");
    // `{"s":"…"}` is 8 bytes of JSON around the string.
    let exactly = vars(json!({"s": "x".repeat(92)}));
    assert_eq!(store.save(&user, &exactly, 0).await.unwrap(), 1);
    let over = vars(json!({"s": "x".repeat(93)}));
    let err = store.save(&user, &over, 1).await;
    assert!(
        matches!(
            err,
            Err(StoreError::TooLarge {
                size: 101,
                limit: 100
            })
        ),
        "{err:?}"
    );
    // Not truncated, not written.
    let record = store.load(&user).await.unwrap();
    assert_eq!((record.version, record.vars), (1, exactly));
}

/// Adds one to `count` under [`with_user`].
async fn increment(store: &dyn Store, user: &UserKey) {
    with_user(store, user, Duration::from_secs(60), |record| async move {
        let mut vars = record.vars;
        let count = vars.get("count").and_then(Value::as_u64).unwrap_or(0);
        vars.insert("count".into(), json!(count + 1));
        Ok::<_, String>(((), Some(vars)))
    })
    .await
    .unwrap();
}

async fn concurrent_increments(backend: &Backend) {
    // Two independent instances sharing the backend, like two processes.
    let stores = [
        backend.open(StoreOptions::default()).await,
        backend.open(StoreOptions::default()).await,
    ];
    let user = key("counter");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = stores[i % 2].clone();
        let user = user.clone();
        tasks.spawn(async move { increment(store.as_ref(), &user).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let record = stores[0].load(&user).await.unwrap();
    assert_eq!(record.vars.get("count"), Some(&json!(50)));
    assert_eq!(record.version, 50);
}

async fn failed_turn_saves_nothing(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("failed-turn");
    store
        .save(&user, &vars(json!({"step": 1})), 0)
        .await
        .unwrap();
    let wait = Duration::from_secs(5);

    let err = with_user(store.as_ref(), &user, wait, |mut record| async move {
        record.vars.insert("step".into(), json!(2));
        Err::<((), Option<Vars>), _>("the turn failed")
    })
    .await;
    assert!(
        matches!(err, Err(WithUserError::Turn("the turn failed"))),
        "{err:?}"
    );

    // No change → no write, even when the vars are handed back.
    let answer = with_user(store.as_ref(), &user, wait, |record| async move {
        Ok::<_, String>(("same", Some(record.vars)))
    })
    .await
    .unwrap();
    assert_eq!(answer, "same");
    assert_eq!(store.load(&user).await.unwrap().version, 1);

    // The lock was released on both paths.
    store
        .lock(&user, Duration::ZERO)
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

async fn lost_race_reruns_turn(backend: &Backend) {
    let store = backend.open(options()).await;
    let user = key("lost-race");
    let runs = AtomicUsize::new(0);
    let result = with_user(store.as_ref(), &user, Duration::from_secs(5), |record| {
        let (store, user, runs) = (store.clone(), user.clone(), &runs);
        async move {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                // A writer that ignores the lock gets in first.
                let theirs = vars(json!({"by": "intruder"}));
                store.save(&user, &theirs, record.version).await.unwrap();
            }
            let mut vars = record.vars;
            vars.insert("by_turn".into(), json!(true));
            Ok::<_, String>((record.version, Some(vars)))
        }
    })
    .await
    .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(result, 1, "the second run saw the intruder's record");
    let record = store.load(&user).await.unwrap();
    assert_eq!(
        record.vars,
        vars(json!({"by": "intruder", "by_turn": true}))
    );
}

/// The environment variable that turns this test binary into a worker
/// process of [`two_processes`].
const WORKER_URL: &str = "STEPTALK_TEST_STORE_WORKER_URL";

/// Two OS processes (this test binary, re-run as [`process_worker`]) each
/// add 25 to one counter on the same backend.
async fn two_processes(backend: &Backend) {
    if backend.name == "memory" {
        println!("skipping memory: processes cannot share an in-process store");
        return;
    }
    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process_worker",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WORKER_URL, &backend.url)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let workers = [spawn(), spawn()];
    for mut worker in workers {
        let status = tokio::task::spawn_blocking(move || worker.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "worker failed: {status}");
    }
    let store = backend.open(StoreOptions::default()).await;
    let record = store.load(&key("processes")).await.unwrap();
    assert_eq!(record.vars.get("count"), Some(&json!(50)));
}

/// Not a test on its own: the body of a worker process of [`two_processes`],
/// which does nothing unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn process_worker() {
    let Ok(url) = std::env::var(WORKER_URL) else {
        return;
    };
    let store = steptalk::store::open(&url, StoreOptions::default())
        .await
        .unwrap();
    let user = key("processes");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (store, user) = (store.clone(), user.clone());
        tasks.spawn(async move { increment(store.as_ref(), &user).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// `f` fails as unavailable within a bound well above the 2 s connect timeout.
async fn assert_unavailable<T: std::fmt::Debug>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, StoreError>>,
) {
    let result = tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung while the store was down"));
    assert!(
        matches!(result, Err(StoreError::Unavailable { .. })),
        "{what}: {result:?}"
    );
}

/// Retries `load` until the store answers again (it must, without a restart).
async fn assert_recovers(store: &dyn Store, user: &UserKey) {
    for _ in 0..100 {
        if store.load(user).await.is_ok() {
            store.health().await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the store did not recover");
}

async fn assert_down(store: &dyn Store, user: &UserKey) {
    assert_unavailable("health", store.health()).await;
    assert_unavailable("load", store.load(user)).await;
    assert_unavailable("save", store.save(user, &Vars::new(), 0)).await;
    assert_unavailable("lock", async {
        store.lock(user, Duration::from_secs(1)).await.map(drop)
    })
    .await;
}

async fn unavailable_then_recovery(backend: &Backend) {
    let user = key("down");
    match backend.name {
        "memory" => println!("skipping memory: an in-process store cannot be down"),
        "sqlite" => {
            // The file's directory does not exist yet: unreachable.
            let dir = backend.dir.path().join("later");
            let url = format!("sqlite://{}", dir.join("store.db").display());
            let store = steptalk::store::open(&url, options()).await.unwrap();
            assert_down(store.as_ref(), &user).await;
            std::fs::create_dir(&dir).unwrap();
            assert_recovers(store.as_ref(), &user).await;
            store.save(&user, &vars(json!({"ok": 1})), 0).await.unwrap();

            // Another process holds the write lock and never lets go: writes
            // give up after the timeout, reads (WAL) still work.
            let store = steptalk::store::open(&url, quick()).await.unwrap();
            let blocker = rusqlite::Connection::open(dir.join("store.db")).unwrap();
            blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
            assert_unavailable("save", store.save(&user, &Vars::new(), 1)).await;
            assert_eq!(store.load(&user).await.unwrap().version, 1);
            blocker.execute_batch("COMMIT").unwrap();
            store.save(&user, &Vars::new(), 1).await.unwrap();
        }
        _ => {
            // Nothing listens: fails fast.
            let mut url = url::Url::parse(&backend.url).unwrap();
            url.set_port(Some(closed_port().await)).unwrap();
            let store = steptalk::store::open(url.as_str(), options())
                .await
                .unwrap();
            assert_down(store.as_ref(), &user).await;

            // Something listens but never answers: fails after the timeout.
            let (port, _silent) = silent_server().await;
            url.set_port(Some(port)).unwrap();
            let store = steptalk::store::open(url.as_str(), quick()).await.unwrap();
            assert_down(store.as_ref(), &user).await;

            // A real server behind a proxy that goes away and comes back.
            let real = url::Url::parse(&backend.url).unwrap();
            let target = real
                .socket_addrs(|| Some(if backend.name == "redis" { 6379 } else { 5432 }))
                .unwrap()[0];
            let proxy = Proxy::start(target).await;
            let mut url = real.clone();
            url.set_port(Some(proxy.port)).unwrap();
            let store = steptalk::store::open(url.as_str(), options())
                .await
                .unwrap();
            store.save(&user, &vars(json!({"n": 1})), 0).await.unwrap();
            proxy.down().await;
            assert_down(store.as_ref(), &user).await;
            proxy.up();
            assert_recovers(store.as_ref(), &user).await;
            assert_eq!(store.load(&user).await.unwrap().vars, vars(json!({"n": 1})));
        }
    }
}

/// Store operations show up in the metrics the server exports.
#[test]
fn operations_are_metered() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // One thread, so every metric is recorded where the local recorder is set.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let store = steptalk::store::open("memory://", StoreOptions::default())
                .await
                .unwrap();
            let user = key("metered");
            store.load(&user).await.unwrap();
            store.save(&user, &Vars::new(), 0).await.unwrap();
            let _ = store.save(&user, &Vars::new(), 0).await;
            let lock = store.lock(&user, Duration::ZERO).await.unwrap();
            lock.release().await.unwrap();
        })
    });
    let text = handle.render();
    for line in [
        r#"steptalk_store_seconds_count{backend="memory",op="load"} 1"#,
        r#"steptalk_store_seconds_count{backend="memory",op="save"} 2"#,
        r#"steptalk_store_seconds_count{backend="memory",op="lock"} 1"#,
        r#"steptalk_store_seconds_count{backend="memory",op="release"} 1"#,
        r#"steptalk_store_errors_total{backend="memory",op="save",kind="conflict"} 1"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

/// Only the four URL forms are accepted; a typo fails at start-up.
#[tokio::test]
async fn bad_urls_are_rejected() {
    for url in [
        "",
        "steptalk.db",
        "mysql://localhost/db",
        "sqlite://",
        "postgres://postgres@127.0.0.1/test?schema=Bad-Name",
    ] {
        let result = steptalk::store::open(url, StoreOptions::default()).await;
        assert!(
            matches!(result, Err(StoreError::Url(..))),
            "{url}: {result:?}"
        );
    }
}

proptest::proptest! {
    /// Any interleaving of loads and versioned saves by three clients on
    /// `memory://`: a save succeeds exactly when its client saw the current
    /// version, so the counter always equals the number of successful saves
    /// (no lost update).
    #[test]
    fn interleaved_versioned_writes_lose_no_update(
        ops in proptest::collection::vec((0usize..3, proptest::bool::ANY), 1..60)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let store = steptalk::store::open("memory://", StoreOptions::default())
                .await
                .unwrap();
            let user = key("interleaved");
            let mut seen = <[steptalk::store::Record; 3]>::default();
            let mut saved = 0u64;
            for (client, write) in ops {
                if !write {
                    seen[client] = store.load(&user).await.unwrap();
                    continue;
                }
                let count = seen[client].vars.get("count").and_then(Value::as_u64).unwrap_or(0);
                let mut vars = seen[client].vars.clone();
                vars.insert("count".into(), json!(count + 1));
                match store.save(&user, &vars, seen[client].version).await {
                    Ok(version) => {
                        assert_eq!(seen[client].version, saved, "a stale save succeeded");
                        saved += 1;
                        assert_eq!(version, saved);
                        seen[client] = steptalk::store::Record { vars, version };
                    }
                    Err(StoreError::Conflict) => {
                        assert_ne!(seen[client].version, saved, "a current save failed");
                    }
                    Err(err) => panic!("{err}"),
                }
            }
            let record = store.load(&user).await.unwrap();
            assert_eq!(record.version, saved);
            let count = record.vars.get("count").and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(count, saved);
        });
    }
}
