//! Test support: one [`Backend`] per store kind with a fresh namespace per
//! test, and a TCP [`Proxy`] that can take a networked backend "down" and
//! bring it back without touching the real server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use steptalk::store::{open, Store, StoreOptions};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A backend under test and the URL of a namespace no other test run uses.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    /// For `memory://`, the one instance every `open` returns: two separate
    /// memory stores share nothing, so "two instances" means one here.
    memory: tokio::sync::Mutex<Option<Arc<dyn Store>>>,
    /// Keeps the SQLite directory alive for the test.
    pub dir: tempfile::TempDir,
}

fn suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Appends a query parameter to a URL that may already have a query.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{name}={value}")
}

impl Backend {
    /// The backend called `name`, or `None` (after printing why) when its
    /// server is not configured for this run.
    pub fn new(name: &'static str) -> Option<Backend> {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match name {
            "memory" => "memory://".to_string(),
            "sqlite" => format!("sqlite://{}", dir.path().join("store.db").display()),
            "redis" => with_param(
                &env_url(name, "STEPTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379")?,
                "prefix",
                &format!("steptalk-test-{}:", suffix()),
            ),
            "postgres" => with_param(
                &env_url(
                    name,
                    "STEPTALK_TEST_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                )?,
                "schema",
                &format!("steptalk_test_{}", suffix()),
            ),
            _ => panic!("unknown backend {name}"),
        };
        Some(Backend {
            name,
            url,
            memory: tokio::sync::Mutex::new(None),
            dir,
        })
    }

    /// A store instance on this backend's namespace.
    pub async fn open(&self, options: StoreOptions) -> Arc<dyn Store> {
        if self.name == "memory" {
            let mut memory = self.memory.lock().await;
            if let Some(store) = &*memory {
                return store.clone();
            }
            let store = open(&self.url, options).await.unwrap();
            *memory = Some(store.clone());
            return store;
        }
        open(&self.url, options).await.unwrap()
    }

    /// Removes what the test wrote in a shared server.
    pub async fn cleanup(&self) {
        match self.name {
            "redis" => {
                let (base, prefix) = self.url.rsplit_once("?prefix=").unwrap();
                let client = redis::Client::open(base).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if !keys.is_empty() {
                    let _: () = redis::cmd("DEL")
                        .arg(keys)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
            }
            "postgres" => {
                let (base, schema) = self.url.rsplit_once("?schema=").unwrap();
                let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
}

fn env_url(name: &str, var: &str, example: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipping {name}: {var} is not set (e.g. {var}={example})");
            None
        }
    }
}

/// A port on loopback that nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A TCP forwarder to a real server that can be switched off (listener
/// closed, open connections cut) and on again on the same port.
pub struct Proxy {
    pub port: u16,
    target: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let proxy = Proxy {
            port: closed_port().await,
            target,
            task: Mutex::new(None),
        };
        proxy.up();
        proxy
    }

    /// Starts forwarding again.
    pub fn up(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], self.port)))
            .unwrap();
        let listener = socket.listen(64).unwrap();
        let target = self.target;
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) cuts every connection.
            let mut conns = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn down(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A loopback server that accepts connections and never answers, like a
/// backend that hangs. Returns its port; it lives as long as the returned task.
pub async fn silent_server() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}
