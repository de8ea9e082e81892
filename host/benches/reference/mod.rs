//! The reference service of the load benchmark: a bare axum server on the same routes that
//! only parses the JSON body and answers, run in its own process like the host. What the host
//! does beyond this (the keeper, the journal, deliveries) is what the comparison measures.

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

/// Parses the body as the host does (a `connection.update` object) and answers.
async fn event(body: axum::body::Bytes) -> (StatusCode, &'static str) {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => (StatusCode::OK, r#"{"ok":true}"#),
        Err(_) => (StatusCode::BAD_REQUEST, r#"{"error":"invalid JSON"}"#),
    }
}

async fn add(body: axum::body::Bytes) -> (StatusCode, &'static str) {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => (StatusCode::CREATED, r#"{"ok":true}"#),
        Err(_) => (StatusCode::BAD_REQUEST, r#"{"error":"invalid JSON"}"#),
    }
}

/// Serves on 127.0.0.1 port 0; prints `listening on http://ADDR` first, as the host does.
pub fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let app = Router::new().route("/sessions", post(add)).route("/sessions/{id}/events", post(event));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("reference listening on http://{}", listener.local_addr().unwrap());
        axum::serve(listener, app).await.unwrap();
    });
}
