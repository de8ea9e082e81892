//! Wiring: store -> recovery -> driver -> HTTP server, and the orderly way down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{app, AppState};
use crate::command_log::{CommandLog, KEEP};
use crate::connections::{self, Limits};
use crate::delivery::Deliverer;
use crate::driver::{Driver, DriverHandle, DriverParts};
use crate::metrics::Metrics;
use crate::recovery::{recover, RecoveryError};
use crate::settings::Settings;
use crate::store::{Store, StoreError, Writer};

/// Why the service could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The saved state could not be recovered.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    /// Binding or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The OS error (address in use, permission denied).
        source: std::io::Error,
    },
    /// Storage failed while running; the service stopped (a restart recovers).
    #[error("storage failed while running; stopped")]
    StorageFailed,
}

/// A running service.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The driver (for in-process callers and tests).
    pub driver: DriverHandle,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The `/commands` log.
    pub commands: Arc<CommandLog>,
    /// What the keeper recovered at start (`restored`, `replayed`).
    pub recovered: (bool, u64),
    shutdown: CancellationToken,
    fatal: CancellationToken,
    join: JoinHandle<()>,
}

impl Running {
    /// Starts an orderly shutdown (stop accepting, drain in-flight deliveries, final snapshot).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Cancelled once the service is stopping (signal, [`Self::shutdown`] or storage failure).
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the service has stopped.
    pub async fn wait(self) -> Result<(), ServerError> {
        let _ = self.join.await;
        if self.fatal.is_cancelled() {
            Err(ServerError::StorageFailed)
        } else {
            Ok(())
        }
    }
}

/// Opens the store, recovers the state, starts the driver and the HTTP server.
pub async fn start(settings: Settings) -> Result<Running, ServerError> {
    let mut store = Store::open_capped(&settings.data_dir, settings.max_storage_mb)?;
    let recovered = recover(&mut store, &settings.core, settings.accept_data_loss)?;
    if recovered.restored {
        tracing::info!(replayed = recovered.replayed, "state restored");
    }
    let recovered_info = (recovered.restored, recovered.replayed);
    let mut recent = Vec::new();
    for (id, text) in store.recent_commands(KEEP)? {
        let command = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("stored command {id}: {e}")))?;
        recent.push((id, command));
    }
    let commands = Arc::new(CommandLog::new(recent));
    let (writer, writer_thread) = Writer::spawn(store);
    let metrics = Arc::new(Metrics::default());
    let deliverer = Deliverer::new(&settings, metrics.clone())?;
    let fatal = CancellationToken::new();
    let (driver, handle) = Driver::new(DriverParts {
        keeper: recovered.keeper,
        next_seq: recovered.next_seq,
        writer,
        deliverer,
        commands: commands.clone(),
        metrics: metrics.clone(),
        snapshot_every: settings.snapshot_every,
        shutdown_timeout: Duration::from_millis(settings.shutdown_timeout),
        fatal: fatal.clone(),
        max_clock_jump: settings.max_clock_jump,
    });
    let driver_task = tokio::spawn(driver.run());

    let addr = SocketAddr::new(settings.host, settings.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr: addr.to_string(), source })?;
    let addr =
        listener.local_addr().map_err(|source| ServerError::Listen { addr: addr.to_string(), source })?;
    let shutdown = CancellationToken::new();
    let state = AppState {
        driver: handle.clone(),
        commands: commands.clone(),
        metrics: metrics.clone(),
        api_key: settings.api_key.clone(),
        shutdown: shutdown.clone(),
        request_timeout: Duration::from_millis(settings.client_request_timeout),
    };
    let router = app(state);
    let grace = Duration::from_millis(settings.shutdown_timeout);
    let stop = shutdown.clone();
    let driver_handle = handle.clone();
    let limits = Limits {
        header_timeout: Duration::from_millis(settings.client_header_timeout),
        max_connections: usize::try_from(settings.max_connections).unwrap_or(usize::MAX),
    };
    let server_metrics = metrics.clone();
    let join = tokio::spawn(async move {
        let server =
            tokio::spawn(connections::serve(listener, router, limits, server_metrics, stop.clone(), grace));
        stop.cancelled().await;
        tracing::info!("shutting down: no new requests");
        let _ = server.await;
        driver_handle.shutdown().await;
        let _ = driver_task.await;
        drop(driver_handle);
        let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
        tracing::info!("stopped");
    });
    // A storage failure stops the service (fail-stop: a restart recovers from the store).
    {
        let fatal = fatal.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = fatal.cancelled() => {
                    tracing::error!("storage failed; stopping");
                    shutdown.cancel();
                }
                _ = shutdown.cancelled() => {}
            }
        });
    }
    Ok(Running { addr, driver: handle, metrics, commands, recovered: recovered_info, shutdown, fatal, join })
}

/// The backend URL without credentials, for logs.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(invalid URL)".into(),
    }
}
