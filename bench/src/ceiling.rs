//! The ceiling: a minimal actix-web server that does the same HTTP exchanges as the daemon and no
//! work, so that "daemon / ceiling" says how much of the loopback HTTP budget the daemon's own
//! work takes. It runs as a process of its own (`construct-bench ceiling`) so that its CPU time
//! is read from /proc exactly like the daemon's.
//!
//! - `POST /session`: reads the body, answers a fixed session JSON.
//! - `POST /mcp`: reads the body; a `tools/call` gets a fixed SSE body shaped like one echo
//!   response; a `tools/call` of `sleep` publishes `steps` events to every follower (the fan-out
//!   publisher); anything else gets a fixed `ping` answer.
//! - `GET /session/{id}/events`: SSE fed by one `tokio::sync::broadcast` channel, each event
//!   formatted once; a follower that falls behind gets `event: lagged`, like the daemon's.
//! - `GET /health`: a fixed JSON.
//!
//! Like the daemon it listens on 127.0.0.1:0 with TCP_NODELAY, with actix-web's default number
//! of workers (one per core).

use std::convert::Infallible;

use actix_web::http::header::{CACHE_CONTROL, ContentType};
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures::stream;
use tokio::sync::broadcast;

use crate::{client, progress};

const SESSION: &str = concat!(
    r#"{"cwd":"/tmp","session_id":"00000000-0000-4000-8000-000000000000","#,
    r#""token":"0000000000000000000000000000000000000000000000000000000000000000"}"#
);
const CALL_SSE: &str = concat!(
    r#"data: {"jsonrpc":"2.0","id":1,"result":{"content":[{"text":"hello","type":"text"}],"#,
    r#""isError":false}}"#,
    "\n\n"
);
const PING: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
const HEALTH: &str = r#"{"status":"ok","pid":0,"uptime_seconds":0,"started_at":"2026-01-01T00:00:00Z","protocol_version":"2025-11-25"}"#;

struct State {
    events: broadcast::Sender<Bytes>,
}

/// Runs the ceiling until killed; prints `ceiling listening on http://ADDR` first.
pub fn run(queue: usize) -> anyhow::Result<()> {
    actix_rt::System::new().block_on(async move {
        let (events, _) = broadcast::channel(queue.max(1));
        let state = web::Data::new(State { events });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/health", web::get().to(health))
                .route("/session", web::post().to(session))
                .route("/session/{id}/events", web::get().to(follow))
                .route("/mcp", web::post().to(mcp))
        })
        .tcp_nodelay(true)
        .bind(("127.0.0.1", 0))?;
        let addr = server.addrs()[0];
        println!("ceiling listening on http://{addr}");
        server.run().await?;
        Ok(())
    })
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(HEALTH)
}

async fn session(_body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(SESSION)
}

async fn mcp(body: Bytes, state: web::Data<State>) -> HttpResponse {
    if !client::contains(&body, b"tools/call") {
        return HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(PING);
    }
    if client::contains(&body, b"\"sleep\"") {
        let steps = client::number_after(&body, b"\"steps\":").unwrap_or(0);
        let duration_ms = client::number_after(&body, b"\"duration_ms\":").unwrap_or(0);
        publish(&state.events, steps, duration_ms).await;
    }
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(CALL_SSE)
}

/// Publishes `steps` progress events, each formatted once, spread over `duration_ms` like the
/// daemon's `sleep` tool (0: as fast as the broadcast allows).
async fn publish(events: &broadcast::Sender<Bytes>, steps: u64, duration_ms: u64) {
    let pause = progress::pause(steps, duration_ms);
    for step in 1..=steps {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let json = progress::event_data(step, steps);
        let _ = events.send(Bytes::from(format!("id: {step}\ndata: {json}\n\n")));
        // Let the followers' tasks on this worker run, as the daemon's publisher waits for its
        // session actor between events.
        if pause.is_zero() {
            tokio::task::yield_now().await;
        }
    }
}

async fn follow(state: web::Data<State>) -> HttpResponse {
    let receiver = state.events.subscribe();
    let events = stream::unfold(receiver, |mut receiver| async move {
        let item = match receiver.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Bytes::from(format!("event: lagged\ndata: {{\"missed\":{missed}}}\n\n"))
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(item), receiver))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .streaming(events)
}
