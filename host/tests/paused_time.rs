//! The driver reads time through tokio: with the clock paused, a 120 s pending timeout passes
//! in virtual time and the close command appears at once.

mod common;

use std::time::{Duration, Instant};

use common::closed_port;
use sessionkeeper_core::{CommandKind, Input};
use sessionkeeper_host::server;
use sessionkeeper_host::settings::{self, Sources};

#[tokio::test(start_paused = true)]
async fn pending_timeout_runs_on_tokio_time() {
    let dir = tempfile::tempdir().unwrap();
    let flag = |k: &str, v: String| (k.to_owned(), v, "test".to_owned());
    let settings = settings::load(&Sources {
        file: None,
        env: Vec::new(),
        flags: vec![
            flag("port", "0".into()),
            flag("dataDir", dir.path().display().to_string()),
            flag("laravelApiUrl", format!("http://127.0.0.1:{}/api", closed_port())),
            // Only the pending timer matters here (the clock may jump while the test waits).
            flag("inactiveSessionTimeout", "100000000000".into()),
        ],
    })
    .unwrap();
    assert_eq!(settings.core.pending_session_timeout, 120_000, "the seed's default");
    // A ticker keeps virtual time moving in 10 ms steps: when the runtime idles (waiting for
    // the store's thread), tokio jumps only to the next tick, never hours ahead.
    let ticker = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let running = server::start(settings).await.unwrap();
    let mut commands = running.commands.subscribe().live;
    running.driver.submit(Input::AddSession { session_id: "alice".into(), meta: None }).await.unwrap();
    let virtual_start = tokio::time::Instant::now();
    let real_start = Instant::now();
    let update = serde_json::from_str(r#"{"qr":"2@alice"}"#).unwrap();
    running.driver.submit(Input::ConnectionUpdate { session_id: "alice".into(), update }).await.unwrap();
    let (_, command) = commands.recv().await.unwrap();
    assert_eq!(command.kind, CommandKind::Close);
    assert_eq!(&*command.session_id, "alice");
    assert!(virtual_start.elapsed() >= Duration::from_millis(120_000), "{:?}", virtual_start.elapsed());
    assert!(real_start.elapsed() < Duration::from_secs(10), "no real waiting");
    let sessions = running.driver.read(|k, now| k.sessions(now)).await.unwrap();
    assert!(sessions.sessions.is_empty());
    running.shutdown();
    running.wait().await.unwrap();
    ticker.abort();
}
