//! `steptalk serve`: the axum app, its middleware and routes.
//!
//! OWNER: server helper.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `steptalk serve` options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub dirs: Vec<PathBuf>,
    pub listen: SocketAddr,
    pub store_url: String,
    pub skill_ids: Vec<String>,
    pub insecure_skip_verify: bool,
    pub rewrites: Vec<crate::outbound::Rewrite>,
}

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Start(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Binds `options.listen` and serves until SIGINT/SIGTERM.
pub async fn run(options: ServeOptions) -> Result<(), ServeError> {
    let _ = options;
    Err(ServeError::Start("not implemented yet".into()))
}
