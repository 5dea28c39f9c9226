//! The baseline of `cargo xtask bench load`: an axum hello-world, built in the same run and
//! with the same (release) profile as the server, served the same way (axum-server over
//! hyper-util, tokio's multi-threaded runtime), on loopback. It announces its address on
//! stdout as the server does (`listening on http://ADDR`) and serves until it is killed.

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    println!("listening on http://{}", listener.local_addr()?);
    axum_server::from_tcp(listener)?
        .serve(app.into_make_service())
        .await
}
