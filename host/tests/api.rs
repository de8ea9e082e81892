//! The HTTP API over real HTTP on 127.0.0.1: auth, validation, QR rendering, cleanups,
//! metrics, unknown-session QRs, pending expiry and `/commands`.

mod common;

use std::time::Duration;

use common::{closed_port, eventually, Backend, Host, Mode};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn api_key_is_required_everywhere_but_health() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[("apiKey", "s3cret-key")]).await;
    let plain = reqwest::Client::new();
    let url = |p: &str| format!("{}{}", host.base, p);

    assert_eq!(plain.get(url("/health")).send().await.unwrap().status(), 200);
    for (method, path) in [
        (Method::GET, "/sessions"),
        (Method::POST, "/sessions"),
        (Method::GET, "/metrics"),
        (Method::GET, "/commands"),
        (Method::POST, "/cleanup-pending-sessions"),
        (Method::DELETE, "/sessions/a"),
    ] {
        let resp = plain.request(method.clone(), url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{method} {path}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("API key"), "{body}");
    }
    let wrong = plain.get(url("/sessions")).bearer_auth("s3cret-kez").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let bearer = plain.get(url("/sessions")).bearer_auth("s3cret-key").send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let header = plain.get(url("/sessions")).header("x-api-key", "s3cret-key").send().await.unwrap();
    assert_eq!(header.status(), 200);
    host.stop().await;
}

#[tokio::test]
async fn health_without_the_key_shows_counts_only() {
    let backend = Backend::start(Mode::Status(422)).await;
    let host = Host::start(&backend.url(), &[("apiKey", "s3cret-key")]).await;
    let (s, _) = host
        .post("/enqueue", json!({ "path": "/messages", "sessionId": "4915112345678", "payload": {} }))
        .await;
    assert_eq!(s, 202);
    eventually(10, "the item dead-lettered", || async {
        (host.health().await["queue"]["deadLettered"] == 1).then_some(())
    })
    .await;
    let open: Value = reqwest::get(format!("{}/health", host.base)).await.unwrap().json().await.unwrap();
    assert_eq!(open["queue"]["deadLettered"], 1, "counts are shown");
    assert_eq!(open["queue"]["deadLetters"], json!([]), "no ids, paths or keys without the key");
    assert!(!open.to_string().contains("4915112345678"), "{open}");
    let keyed = host.health().await;
    assert_eq!(keyed["queue"]["deadLetters"][0]["sessionId"], "4915112345678");
    host.stop().await;
}

#[tokio::test]
async fn bad_inputs_get_json_errors_and_change_nothing() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    host.add("alice").await;
    let before = host.get("/sessions").await.1;

    let raw = |method: Method, path: &str, body: &'static str| {
        host.req(method, path).header("content-type", "application/json").body(body).send()
    };
    let cases: Vec<(reqwest::Response, u16)> = vec![
        (raw(Method::POST, "/sessions", "{\"sessionId\":").await.unwrap(), 400),
        (raw(Method::POST, "/sessions", "{\"sessionId\":\"bad id!\"}").await.unwrap(), 400),
        (raw(Method::POST, "/sessions", "{\"id\":\"x\"}").await.unwrap(), 400),
        (raw(Method::POST, "/sessions", "{\"sessionId\":\"alice\"}").await.unwrap(), 409),
        (raw(Method::POST, "/sessions/alice/events", "[1,2]").await.unwrap(), 400),
        (raw(Method::POST, "/sessions/alice/events", "{\"connection\":\"sideways\"}").await.unwrap(), 400),
        (raw(Method::POST, "/sessions/bad%20id/events", "{}").await.unwrap(), 400),
        (raw(Method::POST, "/sessions/nobody/events", "{\"connection\":\"open\"}").await.unwrap(), 404),
        (raw(Method::DELETE, "/sessions/nobody", "").await.unwrap(), 404),
        (raw(Method::GET, "/sessions/nobody/qr", "").await.unwrap(), 404),
        (raw(Method::GET, "/sessions/alice/qr", "").await.unwrap(), 404),
        (raw(Method::GET, "/sessions/alice/qr?format=gif", "").await.unwrap(), 400),
        (raw(Method::POST, "/cleanup-pending-sessions", "{\"olderThanMs\":\"x\"}").await.unwrap(), 400),
        (raw(Method::POST, "/enqueue", "{\"path\":\"no-slash\",\"payload\":{}}").await.unwrap(), 400),
        (raw(Method::GET, "/no/such/endpoint", "").await.unwrap(), 404),
        (raw(Method::PUT, "/sessions", "").await.unwrap(), 405),
    ];
    for (resp, expected) in cases {
        let url = resp.url().to_string();
        assert_eq!(resp.status().as_u16(), expected, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].is_string(), "{url}: {body}");
    }
    let huge = format!("{{\"qr\":\"{}\"}}", "x".repeat(100 * 1024));
    let resp = host.req(Method::POST, "/sessions/alice/events").body(huge).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());

    let after = host.get("/sessions").await.1;
    assert_eq!(before["sessions"], after["sessions"]);
    assert_eq!(host.health().await["queue"]["accepted"], 0, "adding a session queues nothing");
    host.stop().await;
}

#[tokio::test]
async fn qr_is_served_as_png_svg_and_raw() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    host.add("alice").await;
    assert_eq!(host.event("alice", json!({ "qr": "2@first-qr" })).await, 200);
    let get = |q: &'static str| host.req(Method::GET, q).send();
    let png = get("/sessions/alice/qr").await.unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[1..4], b"PNG");
    let svg = get("/sessions/alice/qr?format=svg").await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let raw: Value = get("/sessions/alice/qr?format=raw").await.unwrap().json().await.unwrap();
    assert_eq!(raw, json!({ "sessionId": "alice", "qr": "2@first-qr" }));
    host.stop().await;
}

#[tokio::test]
async fn unknown_session_qrs_are_never_forwarded() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    assert_eq!(host.event("ghost", json!({ "qr": "2@ghost" })).await, 404);
    host.add("alice").await;
    assert_eq!(host.event("alice", json!({ "qr": "2@alice" })).await, 200);
    assert_eq!(host.event("ghost", json!({ "qr": "2@ghost-again" })).await, 404);
    // alice's QR reaching the backend proves the queue ran past the ghost's attempts.
    eventually(5, "alice's QR delivered", || async {
        (!backend.on_path("/api/qr").is_empty()).then_some(())
    })
    .await;
    let qrs = backend.on_path("/api/qr");
    assert_eq!(qrs.len(), 1);
    assert_eq!(qrs[0].body["sessionId"], "alice");
    assert!(backend.received().iter().all(|r| r.body["sessionId"] != "ghost"));
    let (_, metrics) = host.get_text("/metrics").await;
    assert!(metrics.contains("sessionkeeper_inputs_refused_total{code=\"UnknownSession\"} 2"), "{metrics}");
    host.stop().await;
}

#[tokio::test]
async fn cleanups_answer_removed_and_count() {
    let host = Host::start(&format!("http://127.0.0.1:{}/api", closed_port()), &[]).await;
    for id in ["a", "b", "c"] {
        host.add(id).await;
    }
    host.event("a", json!({ "qr": "2@a" })).await;
    host.event("b", json!({ "qr": "2@b" })).await;
    // Without a body only sessions past their configured timeouts go: none yet.
    let (s, body) = host.post("/cleanup-pending-sessions", Value::Null).await;
    assert_eq!((s, body), (200, json!({ "removed": [], "count": 0 })));
    let (s, body) = host.post("/cleanup-inactive-sessions", Value::Null).await;
    assert_eq!((s, body), (200, json!({ "removed": [], "count": 0 })));
    let (s, body) = host.post("/cleanup-pending-sessions", json!({ "olderThanMs": 0 })).await;
    assert_eq!(s, 200);
    assert_eq!(body["count"], 2, "{body}");
    let mut removed: Vec<String> = serde_json::from_value(body["removed"].clone()).unwrap();
    removed.sort();
    assert_eq!(removed, ["a", "b"]);
    let resp = host
        .req(Method::POST, "/cleanup-inactive-sessions")
        .json(&json!({ "idleForMs": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({ "removed": ["c"], "count": 1 }));
    assert_eq!(host.get("/sessions").await.1["sessions"], json!([]));
    host.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    host.add("alice").await;
    host.event("alice", json!({ "qr": "2@a" })).await;
    eventually(5, "deliveries", || async { (backend.received().len() >= 2).then_some(()) }).await;
    let text = eventually(5, "delivered metric", || async {
        let resp = host.req(Method::GET, "/metrics").send().await.unwrap();
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = resp.text().await.unwrap();
        text.contains("sessionkeeper_items_delivered_total 2").then_some(text)
    })
    .await;
    for needle in [
        "sessionkeeper_sessions{state=\"pending\"} 1",
        "sessionkeeper_queue_depth 0",
        "sessionkeeper_queue_in_flight 0",
        "sessionkeeper_items_superseded_total 0",
        "sessionkeeper_items_dead_lettered_total 0",
        "sessionkeeper_circuit_breaker_state{state=\"closed\"} 1",
        "sessionkeeper_circuit_breaker_transitions_total{from=\"closed\",to=\"open\"} 0",
        "sessionkeeper_delivery_duration_seconds_count 2",
        "sessionkeeper_deliveries_total{outcome=\"success\"} 2",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    host.stop().await;
}

/// Reads SSE `data:` lines from `/commands` until one satisfies `want`.
async fn next_command(
    resp: &mut reqwest::Response,
    buf: &mut String,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                let v: Value = serde_json::from_str(data.trim()).unwrap();
                if want(&v) {
                    return v;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("command in time").unwrap();
        buf.push_str(std::str::from_utf8(&chunk.expect("stream open")).unwrap());
    }
}

#[tokio::test]
async fn a_pending_session_expires_and_a_close_command_is_published() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[("pendingSessionTimeout", "300")]).await;
    let mut stream = host.req(Method::GET, "/commands").send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    host.add("slow-user").await;
    host.add("other").await;
    assert_eq!(host.event("slow-user", json!({ "qr": "2@q1" })).await, 200);
    let mut buf = String::new();
    let cmd = next_command(&mut stream, &mut buf, |v| v["sessionId"] == "slow-user").await;
    assert_eq!(cmd["type"], "close", "{cmd}");
    assert!(cmd["reason"].is_string(), "{cmd}");
    // The backend hears `expired`, and the session is gone.
    eventually(5, "expired status", || async {
        backend.on_path("/api/status").iter().any(|r| r.body["status"] == "expired").then_some(())
    })
    .await;
    let sessions = host.get("/sessions").await.1;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["pendingCount"], 0);
    // `?sessionId=` filters; a DELETE publishes a close for that session only.
    let mut only_other = host.req(Method::GET, "/commands?sessionId=other").send().await.unwrap();
    let resp = host.req(Method::DELETE, "/sessions/other").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut buf2 = String::new();
    let cmd = next_command(&mut only_other, &mut buf2, |_| true).await;
    assert_eq!(cmd["sessionId"], "other");
    assert_eq!(cmd["type"], "close");
    host.stop().await;
}

#[tokio::test]
async fn health_reports_pending_alert_over_the_limit() {
    let host =
        Host::start(&format!("http://127.0.0.1:{}/api", closed_port()), &[("pendingAlertThreshold", "1")])
            .await;
    for id in ["a", "b"] {
        host.add(id).await;
        host.event(id, json!({ "qr": format!("2@{id}") })).await;
    }
    let health = host.health().await;
    assert_eq!(health["pendingCount"], 2);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["alerts"][0]["kind"], "pending_sessions", "{health}");
    host.stop().await;
}

/// Reads the next SSE event with data from `/commands`: its `id` and its JSON.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String) -> (Option<String>, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut id, mut data): (Option<String>, Option<String>) = (None, None);
    loop {
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            let line = line.trim_end();
            if line.is_empty() {
                if let Some(d) = data.take() {
                    return (id.take(), serde_json::from_str::<Value>(&d).unwrap());
                }
                id = None;
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(v.trim().to_owned());
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("event in time").unwrap();
        buf.push_str(std::str::from_utf8(&chunk.expect("stream open")).unwrap());
    }
}

#[tokio::test]
async fn commands_missed_while_away_are_replayed_after_last_event_id_across_a_restart() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    host.add("a").await;
    host.add("b").await;
    // Nobody is listening when `a` is removed.
    assert_eq!(host.req(Method::DELETE, "/sessions/a").send().await.unwrap().status(), 200);
    let catch_up =
        |host: &Host, after: &str| host.req(Method::GET, "/commands").header("Last-Event-ID", after);
    let mut s = catch_up(&host, "0").send().await.unwrap();
    let (id, cmd) = next_event(&mut s, &mut String::new()).await;
    assert_eq!(
        (id.as_deref(), cmd["type"].as_str(), cmd["sessionId"].as_str()),
        (Some("1"), Some("close"), Some("a"))
    );
    drop(s);
    let bad = catch_up(&host, "yesterday").send().await.unwrap();
    assert_eq!(bad.status(), 400);

    // After a restart the command is still there, and ids go on from it.
    let dir = host.stop().await;
    let host = Host::start_in(dir, &backend.url(), &[]).await;
    let mut from_zero = catch_up(&host, "0").send().await.unwrap();
    let mut from_one = catch_up(&host, "1").send().await.unwrap();
    assert_eq!(host.req(Method::DELETE, "/sessions/b").send().await.unwrap().status(), 200);
    let (mut buf0, mut buf1) = (String::new(), String::new());
    let (id, cmd) = next_event(&mut from_zero, &mut buf0).await;
    assert_eq!((id.as_deref(), cmd["sessionId"].as_str()), (Some("1"), Some("a")));
    let (id, cmd) = next_event(&mut from_zero, &mut buf0).await;
    assert_eq!((id.as_deref(), cmd["sessionId"].as_str()), (Some("2"), Some("b")));
    let (id, cmd) = next_event(&mut from_one, &mut buf1).await;
    assert_eq!(
        (id.as_deref(), cmd["sessionId"].as_str()),
        (Some("2"), Some("b")),
        "nothing before, nothing twice"
    );
    host.stop().await;
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test]
async fn a_flood_of_events_for_unknown_sessions_costs_no_journal() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[]).await;
    let (_, before) = host.get_text("/metrics").await;
    for i in 0..200 {
        assert_eq!(host.event(&format!("ghost{i}"), json!({ "qr": "2@ghost" })).await, 404);
    }
    let (_, after) = host.get_text("/metrics").await;
    let journaled = metric(&after, "sessionkeeper_journal_entries_total")
        - metric(&before, "sessionkeeper_journal_entries_total");
    assert!(journaled < 5, "refusals that changed nothing were journaled: {journaled}");
    assert!(after.contains("sessionkeeper_inputs_refused_total{code=\"UnknownSession\"} 200"), "{after}");
    host.stop().await;
}
