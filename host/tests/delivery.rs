//! Backend delivery against a fake backend on 127.0.0.1: 2xx, 5xx, 429 + Retry-After, hangs
//! past the timeout, refused connections; the breaker, the queue, coalescing and headers.

mod common;

use std::time::Duration;

use common::{closed_port, eventually, Backend, Host, Mode};
use serde_json::{json, Value};
use sessionkeeper_host::signing;

async fn breaker_state(host: &Host) -> String {
    host.health().await["circuitBreaker"]["state"].as_str().unwrap().to_owned()
}

async fn drained(host: &Host) -> Option<Value> {
    let h = host.health().await;
    let q = &h["queue"];
    (q["depth"] == 0 && q["inFlight"] == 0).then(|| h.clone())
}

#[tokio::test]
async fn deliveries_carry_auth_idempotency_signature_and_a_rendered_qr() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(
        &backend.url(),
        &[("laravelApiToken", "backend-token"), ("signingSecret", "hmac-secret")],
    )
    .await;
    host.add("alice").await;
    host.event("alice", json!({ "qr": "2@alice-qr" })).await;
    eventually(5, "status and QR delivered", || async { (backend.received().len() >= 2).then_some(()) })
        .await;
    let got = backend.received();
    assert_eq!(got[0].path, "/api/status");
    assert_eq!(got[0].body["status"], "pending");
    assert_eq!(got[1].path, "/api/qr");
    assert_eq!(got[1].body["qr"], "2@alice-qr");
    assert!(got[1].body["qrImage"].as_str().unwrap().starts_with("data:image/png;base64,"));
    for r in &got {
        assert_eq!(r.headers["authorization"], "Bearer backend-token");
        assert!(!r.headers["idempotency-key"].is_empty());
        let ts = r.headers["x-timestamp"].to_str().unwrap();
        let sig = r.headers["x-signature"].to_str().unwrap();
        assert!(signing::verify(b"hmac-secret", ts, &r.raw, sig), "signature over timestamp.body");
    }
    assert_ne!(got[0].headers["idempotency-key"], got[1].headers["idempotency-key"]);
    host.stop().await;
}

#[tokio::test]
async fn breaker_opens_on_5xx_holds_the_queue_and_recovers_through_half_open() {
    let backend = Backend::start(Mode::Status(500)).await;
    let host = Host::start(&backend.url(), &[]).await;
    for i in 0..5 {
        let id = format!("s{i}");
        host.add(&id).await;
        host.event(&id, json!({ "qr": format!("2@{id}") })).await;
    }
    eventually(10, "breaker OPEN", || async { (breaker_state(&host).await == "OPEN").then_some(()) }).await;
    // While OPEN nothing is burnt: every item is still held.
    let h = host.health().await;
    assert_eq!(h["queue"]["deadLettered"], 0);
    // The five `pending` statuses are queued; each QR waits for its session's status.
    assert_eq!(h["queue"]["accepted"], 5);
    assert_eq!(h["queue"]["heldQrs"], 5);
    assert_eq!(h["queue"]["delivered"], 0);
    // Through HALF_OPEN (a probe) back to CLOSED once the backend answers again.
    backend.set_mode(Mode::Ok);
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["circuitBreaker"]["state"], "CLOSED");
    assert_eq!(h["queue"]["delivered"], 10);
    assert_eq!(h["queue"]["deadLettered"], 0);
    assert!(h["circuitBreaker"]["trips"].as_u64().unwrap() >= 1);
    let metrics = host.req(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    for t in
        ["from=\"closed\",to=\"open\"", "from=\"open\",to=\"half_open\"", "from=\"half_open\",to=\"closed\""]
    {
        let line = metrics.lines().find(|l| l.contains(t)).unwrap();
        assert!(!line.ends_with(" 0"), "{line}");
    }
    // Every item reached the backend with a 2xx at least once.
    let ok: Vec<_> = backend.received().into_iter().filter(|r| r.answered == Some(200)).collect();
    for i in 0..5 {
        assert!(ok.iter().any(|r| r.path == "/api/qr" && r.body["qr"] == format!("2@s{i}")));
    }
    host.stop().await;
}

#[tokio::test]
async fn refused_connections_hold_the_queue_until_the_backend_comes_up() {
    let port = closed_port();
    let host = Host::start(&format!("http://127.0.0.1:{port}/api"), &[]).await;
    host.add("alice").await;
    host.event("alice", json!({ "qr": "2@a1" })).await;
    eventually(10, "breaker OPEN", || async { (breaker_state(&host).await == "OPEN").then_some(()) }).await;
    let h = host.health().await;
    assert_eq!(h["queue"]["deadLettered"], 0);
    assert!(h["queue"]["depth"].as_u64().unwrap() + h["queue"]["inFlight"].as_u64().unwrap() >= 1);
    // The backend comes up on that port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let backend = Backend::on(listener, Mode::Ok);
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["delivered"], 2);
    let qrs = backend.on_path("/api/qr");
    assert_eq!(qrs.len(), 1);
    assert_eq!(qrs[0].body["qr"], "2@a1");
    host.stop().await;
}

#[tokio::test]
async fn retry_after_pauses_the_queue_without_tripping_the_breaker() {
    let backend = Backend::start(Mode::Ok).await;
    backend.script(vec![Mode::Throttle("1".into())]);
    let host = Host::start(&backend.url(), &[("circuitBreakerThreshold", "1")]).await;
    let (s, _) = host.post("/enqueue", json!({ "path": "/first", "payload": {} })).await;
    assert_eq!(s, 202);
    // Once the 429 has been processed, a new item waits for the pause too.
    eventually(5, "429 seen", || async { (host.health().await["queue"]["throttled"] == 1).then_some(()) })
        .await;
    let (s, _) = host.post("/enqueue", json!({ "path": "/second", "payload": {} })).await;
    assert_eq!(s, 202);
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["circuitBreaker"]["trips"], 0, "a 429 is not a breaker failure");
    assert_eq!(h["queue"]["delivered"], 2);
    let got = backend.received();
    assert_eq!(got[0].path, "/api/first");
    assert_eq!(got[0].answered, Some(429));
    for later in &got[1..] {
        let waited = later.at.duration_since(got[0].at);
        assert!(
            waited >= Duration::from_millis(900),
            "{} sent during the Retry-After pause: {waited:?}",
            later.path
        );
    }
    host.stop().await;
}

#[tokio::test]
async fn a_request_that_hangs_past_the_timeout_is_retried_with_the_same_key() {
    let backend = Backend::start(Mode::Ok).await;
    backend.script(vec![Mode::Hang]);
    let host = Host::start(&backend.url(), &[("requestTimeout", "200")]).await;
    host.add("alice").await;
    host.event("alice", json!({ "connection": "connecting" })).await;
    host.event("alice", json!({ "qr": "2@a" })).await;
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["retries"], 1);
    let statuses = backend.on_path("/api/status");
    assert_eq!(statuses.len(), 2, "hung once, then answered");
    assert_eq!(statuses[0].answered, None);
    assert_eq!(statuses[0].headers["idempotency-key"], statuses[1].headers["idempotency-key"]);
    let metrics = host.req(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("sessionkeeper_deliveries_total{outcome=\"timeout\"} 1"), "{metrics}");
    host.stop().await;
}

#[tokio::test]
async fn newer_qrs_replace_queued_ones() {
    let backend = Backend::start(Mode::Ok).await;
    // The `pending` status hangs twice: the QRs wait for it, the newest replacing the others.
    backend.script(vec![Mode::Hang, Mode::Hang]);
    let host = Host::start(&backend.url(), &[("requestTimeout", "300"), ("maxQrCodes", "10")]).await;
    host.add("alice").await;
    for n in 1..=5 {
        assert_eq!(host.event("alice", json!({ "qr": format!("2@qr{n}") })).await, 200);
    }
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["heldQrs"], 0, "{h}");
    let qrs = backend.on_path("/api/qr");
    assert_eq!(qrs.len(), 1, "only the latest QR is sent");
    let statuses = backend.on_path("/api/status");
    assert!(statuses.len() >= 3 && statuses[2].answered == Some(200), "the status got through first");
    let delivered: Vec<_> = qrs.iter().filter(|r| r.answered == Some(200)).collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body["qr"], "2@qr5", "latest wins");
    host.stop().await;
}

#[tokio::test]
async fn rejected_items_are_dead_lettered_not_retried() {
    let backend = Backend::start(Mode::Status(422)).await;
    let host = Host::start(&backend.url(), &[]).await;
    let (s, ack) = host.post("/enqueue", json!({ "path": "/messages", "payload": { "text": "hi" } })).await;
    assert_eq!(s, 202, "{ack}");
    assert!(ack["idempotencyKey"].is_string());
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["deadLettered"], 1);
    assert_eq!(h["circuitBreaker"]["state"], "CLOSED");
    assert_eq!(backend.on_path("/api/messages").len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn a_full_queue_is_an_explicit_503() {
    let host =
        Host::start(&format!("http://127.0.0.1:{}/api", closed_port()), &[("maxQueueSize", "2")]).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let (s, body) = host.post("/enqueue", json!({ "path": "/x", "payload": { "n": n } })).await;
        if s == 503 {
            assert!(body["error"].as_str().unwrap().contains("queue full"), "{body}");
        }
        statuses.push(s);
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    let (_, metrics) = host.get_text("/metrics").await;
    assert!(metrics.contains("sessionkeeper_inputs_refused_total{code=\"QueueFull\"}"), "{metrics}");
    host.stop().await;
}

#[tokio::test]
async fn an_endless_answer_body_is_not_read_past_the_cap() {
    let backend = Backend::start(Mode::Endless).await;
    let host = Host::start(&backend.url(), &[]).await;
    let (s, _) = host.post("/enqueue", json!({ "path": "/messages", "payload": { "text": "hi" } })).await;
    assert_eq!(s, 202);
    // Reading the whole answer would never end: the item is delivered on the status alone.
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["delivered"], 1);
    let (_, metrics) = host.get_text("/metrics").await;
    assert!(metrics.contains("sessionkeeper_backend_answers_truncated_total 1"), "{metrics}");
    host.stop().await;
}

#[tokio::test]
async fn a_token_rotation_or_a_deploy_holds_statuses_instead_of_dead_lettering_them() {
    let backend = Backend::start(Mode::Ok).await;
    backend.script(vec![Mode::Status(401), Mode::Status(403), Mode::Status(404), Mode::Status(408)]);
    let host = Host::start(&backend.url(), &[("circuitBreakerThreshold", "10")]).await;
    host.add("alice").await;
    host.event("alice", json!({ "connection": "open" })).await;
    let h = eventually(10, "queue drained", || drained(&host)).await;
    assert_eq!(h["queue"]["deadLettered"], 0, "{h}");
    let statuses = backend.on_path("/api/status");
    assert_eq!(statuses.last().unwrap().body["status"], "connected");
    assert_eq!(statuses.last().unwrap().answered, Some(200));
    assert_eq!(statuses.len(), 5, "four refusals, then delivered");
    host.stop().await;
}

#[tokio::test]
async fn dead_letters_are_kept_across_a_restart_and_can_be_retried_or_discarded() {
    let backend = Backend::start(Mode::Status(422)).await;
    let host = Host::start(&backend.url(), &[]).await;
    for n in 0..2 {
        let (s, _) = host.post("/enqueue", json!({ "path": "/orders", "payload": { "n": n } })).await;
        assert_eq!(s, 202);
    }
    eventually(10, "both dead-lettered", || async {
        (host.health().await["queue"]["deadLettersKept"] == 2).then_some(())
    })
    .await;
    let dir = host.stop().await;
    let host = Host::start_in(dir, &backend.url(), &[]).await;
    let (s, letters) = host.get("/dead-letters").await;
    assert_eq!(s, 200);
    assert_eq!(letters.as_array().unwrap().len(), 2, "{letters}");
    assert_eq!(letters[0]["body"], json!({ "n": 0 }));
    assert_eq!(letters[0]["reason"], "rejected (422)");
    let first = letters[0]["itemId"].as_u64().unwrap();
    let second = letters[1]["itemId"].as_u64().unwrap();
    let key = letters[0]["idempotencyKey"].as_str().unwrap().to_owned();

    backend.set_mode(Mode::Ok);
    let (s, body) = host.post(&format!("/dead-letters/{first}/retry"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    eventually(10, "the retried item delivered", || async {
        backend
            .on_path("/api/orders")
            .iter()
            .any(|r| r.answered == Some(200) && r.headers["idempotency-key"] == key.as_str())
            .then_some(())
    })
    .await;
    let del = host.req(reqwest::Method::DELETE, &format!("/dead-letters/{second}")).send().await.unwrap();
    assert_eq!(del.status(), 200);
    let (s, _) = host.post(&format!("/dead-letters/{second}/retry"), json!({})).await;
    assert_eq!(s, 404, "discarded for good");
    let (s, _) = host.post("/dead-letters/abc/retry", json!({})).await;
    assert_eq!(s, 400);
    let (_, letters) = host.get("/dead-letters").await;
    assert_eq!(letters, json!([]));
    let (_, metrics) = host.get_text("/metrics").await;
    assert!(metrics.contains("sessionkeeper_dead_letters_retried_total 1"), "{metrics}");
    assert!(metrics.contains("sessionkeeper_dead_letters_discarded_total 1"), "{metrics}");
    host.stop().await;
}
