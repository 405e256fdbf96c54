//! The local stack's HTTP server: the router served by hyper over each accepted connection,
//! as `axum::serve` does, plus what `axum::serve` leaves out: a connection that sends no
//! complete request head within [`IDLE_TIMEOUT`] (from when it is accepted, or from the end of
//! its last response) is closed, so silent and idle keep-alive connections cannot pile up and
//! hold memory (about 20 KB each). A WebSocket, once upgraded, is no longer the HTTP server's:
//! its own limits apply (`websocket.rs`).

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

/// How long a connection may take to send a request head, counted from when it is accepted or
/// from the end of its last response (hyper's header read timeout).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serve `router` on `listener` until `shutdown` completes, then let the connections finish
/// the requests they are in. Each request carries its peer's address (`ConnectInfo`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    idle_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    // Connections wait for `stop`'s receiver to go (then finish up); the server waits for
    // theirs of `finished` to go.
    let (stop, stopping) = watch::channel(());
    let (finished, finishing) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // API Gateway's edge does not hold small frames back: neither does the emulation (with
        // Nagle's algorithm on, a WebSocket reply can wait 40 ms for the client's delayed ACK).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = router
            .clone()
            .map_request(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let (stop, finishing) = (stop.clone(), finishing.clone());
        tokio::spawn(async move {
            tokio::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop.closed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = outcome {
                tracing::trace!(error = %e, %peer, "connection ended with an error");
            }
            drop(finishing);
        });
    }
    drop(stopping);
    drop(finishing);
    finished.closed().await;
}
