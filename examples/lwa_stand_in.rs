//! A local stand-in for the Login with Amazon profile API, for trying the account-linking
//! scenario without an Amazon account:
//!
//! ```sh
//! cargo run --example lwa_stand_in            # listens on 127.0.0.1:3001
//! cargo run -- serve scenarios/account-linking --insecure-skip-verify \
//!     --rewrite-outbound https://api.amazon.com=http://127.0.0.1:3001
//! ```

#[path = "../tests/support/lwa.rs"]
mod lwa;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("LWA_STAND_IN_LISTEN").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("Login with Amazon stand-in on http://{addr}/user/profile");
    lwa::serve(listener).await
}
