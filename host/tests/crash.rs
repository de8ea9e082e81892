//! Crash safety with the real binary: SIGKILL while events stream in, restart on the same data
//! directory, and every accepted item still reaches the backend (at least once), and every
//! acknowledged removal's `close` command is still on `/commands` for workers catching up.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::binary::{spawn_with, Proc};
use common::{eventually, Backend, Mode};
use serde_json::{json, Value};

/// Starts the binary; returns it and its base URL (read from its first stdout line).
fn spawn(data_dir: &std::path::Path, backend: &str) -> (Proc, String) {
    spawn_with(
        data_dir,
        backend,
        &["--set", "syncSpacing=1", "--set", "maxConcurrentMessages=2", "--set", "snapshotEvery=150"],
    )
}

async fn health(client: &reqwest::Client, base: &str) -> Option<Value> {
    client.get(format!("{base}/health")).send().await.ok()?.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_accepted_item() {
    let backend = Backend::start(Mode::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn(dir.path(), &backend.url());
    let client = reqwest::Client::new();

    // Stream sessions and QRs in; remember what was acknowledged.
    let accepted_qrs = Arc::new(Mutex::new(BTreeSet::new()));
    // Every 10th session is removed again: its `close` command must survive the crash.
    let removed = Arc::new(Mutex::new(BTreeSet::new()));
    let acks = Arc::new(AtomicUsize::new(0));
    let poster = {
        let (client, base, accepted_qrs, removed, acks) =
            (client.clone(), base.clone(), accepted_qrs.clone(), removed.clone(), acks.clone());
        tokio::spawn(async move {
            for i in 0..2_000 {
                let id = format!("s{i}");
                let add =
                    client.post(format!("{base}/sessions")).json(&json!({ "sessionId": id })).send().await;
                match add {
                    Ok(r) if r.status() == 201 => acks.fetch_add(1, Ordering::SeqCst),
                    _ => return,
                };
                let qr = client
                    .post(format!("{base}/sessions/{id}/events"))
                    .json(&json!({ "qr": format!("2@{id}") }))
                    .send()
                    .await;
                match qr {
                    Ok(r) if r.status() == 200 => {
                        accepted_qrs.lock().unwrap().insert(id.clone());
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => return,
                }
                if i % 10 == 0 {
                    match client.delete(format!("{base}/sessions/{id}")).send().await {
                        // Its queued QR is purged by design; its `close` command is published.
                        Ok(r) if r.status() == 200 => {
                            accepted_qrs.lock().unwrap().remove(&id);
                            removed.lock().unwrap().insert(id);
                        }
                        _ => return,
                    }
                }
            }
        })
    };
    eventually(30, "some acks", || async { (acks.load(Ordering::SeqCst) >= 400).then_some(()) }).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    poster.await.unwrap();
    let accepted = accepted_qrs.lock().unwrap().clone();
    assert!(accepted.len() >= 150, "{}", accepted.len());
    assert!(accepted.len() < 2_000, "killed mid-stream");
    let before_restart = backend.received().len();

    // Restart on the same data directory: every accepted QR and `pending` status arrives.
    let (mut child, base) = spawn(dir.path(), &backend.url());
    let h = eventually(60, "queue drained after restart", || async {
        let h = health(&client, &base).await?;
        (h["queue"]["depth"] == 0 && h["queue"]["inFlight"] == 0).then_some(h)
    })
    .await;
    assert!(h["activeSessions"].as_u64().unwrap() >= accepted.len() as u64);
    let ok: Vec<_> = backend.received().into_iter().filter(|r| r.answered == Some(200)).collect();
    let qrs: BTreeSet<String> = ok
        .iter()
        .filter(|r| r.path == "/api/qr")
        .map(|r| r.body["sessionId"].as_str().unwrap().to_owned())
        .collect();
    let pending: BTreeSet<String> = ok
        .iter()
        .filter(|r| r.path == "/api/status" && r.body["status"] == "pending")
        .map(|r| r.body["sessionId"].as_str().unwrap().to_owned())
        .collect();
    let missing_qr: Vec<_> = accepted.difference(&qrs).collect();
    let missing_status: Vec<_> = accepted.difference(&pending).collect();
    assert!(missing_qr.is_empty(), "QRs lost: {missing_qr:?}");
    assert!(missing_status.is_empty(), "statuses lost: {missing_status:?}");
    assert!(backend.received().len() > before_restart, "the restart delivered what was left");

    // A worker catching up from the start gets the `close` of every removal acknowledged before
    // the crash.
    let removed = removed.lock().unwrap().clone();
    assert!(!removed.is_empty());
    let mut stream =
        client.get(format!("{base}/commands")).header("Last-Event-ID", "0").send().await.unwrap();
    let mut closed = BTreeSet::new();
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !removed.is_subset(&closed) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("close commands missing: {:?}", removed.difference(&closed)))
            .unwrap()
            .expect("stream open");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                let cmd: Value = serde_json::from_str(data.trim()).unwrap();
                if cmd["type"] == "close" {
                    closed.insert(cmd["sessionId"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    drop(stream);

    // SIGTERM: orderly stop (exit 0), and the next start finds the state in its snapshot.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "graceful exit");
    let (mut child, base) = spawn(dir.path(), &backend.url());
    let sessions: Value = client.get(format!("{base}/sessions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        h["activeSessions"].as_u64().unwrap() as usize
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The health view without the instant it was taken at.
fn timeless(mut h: Value) -> Value {
    h.as_object_mut().unwrap().remove("now");
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_inputs_change_nothing_across_a_sigkill() {
    let backend = Backend::start(Mode::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn(dir.path(), &backend.url());
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    assert_eq!(post("/sessions", json!({"sessionId": "a"})).await.unwrap().status(), 201);
    assert_eq!(post("/sessions/a/events", json!({"qr": "2@a"})).await.unwrap().status(), 200);
    let settled = || async {
        let h = health(&client, &base).await?;
        (h["queue"]["depth"] == 0 && h["queue"]["inFlight"] == 0 && h["queue"]["delivered"] == 2).then_some(h)
    };
    eventually(20, "the QR and its status delivered", settled).await;

    // Every kind of refusal: none may leave a trace that a replay would not reproduce.
    let refusals = [
        (post("/sessions", json!({"sessionId": "a"})).await.unwrap().status(), 409),
        (post("/sessions/ghost/events", json!({"qr": "2@ghost"})).await.unwrap().status(), 404),
        (
            post("/sessions", json!({"sessionId": "b", "meta": {"x": {"nested": 1}}}))
                .await
                .unwrap()
                .status(),
            400,
        ),
        (
            post("/enqueue", json!({"path": "/x", "payload": 1, "key": "k".repeat(201)}))
                .await
                .unwrap()
                .status(),
            400,
        ),
        (post("/enqueue", json!({"path": "../x", "payload": 1})).await.unwrap().status(), 400),
        (
            client
                .delete(format!("{base}/sessions/a?reason={}", "r".repeat(201)))
                .send()
                .await
                .unwrap()
                .status(),
            400,
        ),
    ];
    for (i, (got, want)) in refusals.iter().enumerate() {
        assert_eq!(got.as_u16(), *want, "refusal {i}");
    }
    let before = timeless(health(&client, &base).await.unwrap());
    child.kill().unwrap(); // SIGKILL right after the refusals
    child.wait().unwrap();

    let (mut child, base) = spawn(dir.path(), &backend.url());
    let after = timeless(health(&client, &base).await.unwrap());
    assert_eq!(after, before, "/health after the restart differs from before the kill");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs the binary on `data_dir` expecting it to refuse to start; returns its stderr.
fn refused_start(data_dir: &std::path::Path, backend: &str) -> String {
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_sessionkeeper"))
            .args(["serve", "--port", "0", "--laravel-api-url", backend, "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the binary started on damaged storage");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!status.success(), "refused with a failure exit");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_wal_or_database_refuses_the_start_until_the_loss_is_accepted() {
    let backend = Backend::start(Mode::Ok).await;
    for damage in ["wal", "database"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, base) = spawn(dir.path(), &backend.url());
        let client = reqwest::Client::new();
        for i in 0..50 {
            let r = client.post(format!("{base}/sessions")).json(&json!({ "sessionId": format!("s{i}") }));
            assert_eq!(r.send().await.unwrap().status(), 201);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let wal = dir.path().join("sessionkeeper.db-wal");
        assert!(wal.metadata().map(|m| m.len()).unwrap_or(0) > 0, "a killed host leaves its WAL");
        match damage {
            "wal" => std::fs::remove_file(&wal).unwrap(),
            _ => std::fs::write(dir.path().join("sessionkeeper.db"), b"").unwrap(),
        }
        let err = refused_start(dir.path(), &backend.url());
        assert!(err.contains("storage lost data") && err.contains("--accept-data-loss"), "{damage}: {err}");

        // The override starts on what is left, and the next plain start is not refused again.
        let (mut child, base) = spawn_with(dir.path(), &backend.url(), &["--accept-data-loss"]);
        assert!(health(&client, &base).await.is_some(), "{damage}: serves after the override");
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{damage}: graceful exit after the override: {status}");
        let (mut child, base) = spawn(dir.path(), &backend.url());
        assert!(health(&client, &base).await.is_some(), "{damage}: a plain start works again");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_stops_and_nothing_acknowledged_is_lost() {
    let backend = Backend::start(Mode::Hang).await;
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--set", "maxStorageMb=1", "--set", "snapshotEvery=1000000", "--set", "shutdownTimeout=500"];
    let (mut child, base) = spawn_with(dir.path(), &backend.url(), &flags);
    let client = reqwest::Client::new();
    let acked = Arc::new(AtomicUsize::new(0));
    let full = Arc::new(AtomicUsize::new(0));
    let mut posters = Vec::new();
    for p in 0..4 {
        let (client, base, acked, full) = (client.clone(), base.clone(), acked.clone(), full.clone());
        posters.push(tokio::spawn(async move {
            for i in 0.. {
                let payload = json!({ "poster": p, "i": i, "pad": "x".repeat(30_000) });
                let r =
                    client.post(format!("{base}/enqueue")).json(&json!({ "path": "/x", "payload": payload }));
                match r.send().await {
                    Ok(resp) if resp.status() == 202 || resp.status() == 200 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(resp) => {
                        assert_eq!(resp.status(), 503, "a full disk is a 503, nothing else");
                        assert!(resp.headers().contains_key("retry-after"));
                        let body: Value = resp.json().await.unwrap();
                        assert!(body["error"].as_str().unwrap().contains("storage"), "{body}");
                        full.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    // The service stopped after the failure: new connections are refused.
                    Err(_) => return,
                }
            }
        }));
    }
    for p in posters {
        p.await.unwrap();
    }
    assert!(full.load(Ordering::SeqCst) > 0, "the requests in flight when the disk filled got a 503");
    let status = child.wait().unwrap();
    assert!(!status.success(), "a storage failure stops the service with a failure exit");

    // More room: every acknowledged item is there.
    let acked = acked.load(Ordering::SeqCst) as u64;
    assert!(acked > 0);
    let (mut child, base) = spawn_with(dir.path(), &backend.url(), &[]);
    let h: Value = client.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
    assert!(h["queue"]["accepted"].as_u64().unwrap() >= acked, "acknowledged {acked}, restored {h}");
    child.kill().unwrap();
    child.wait().unwrap();
}
