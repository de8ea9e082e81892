//! The `sessionkeeper` binary: `serve` (the default) runs the service. The simulator is its own
//! binary (`sessionkeeper-sim`), so the service carries none of its code.

use anyhow::Context as _;
use clap::Parser;
use sessionkeeper_host::cli::{Cli, Command, ServeArgs};
use sessionkeeper_host::settings::{self, Sources};
use sessionkeeper_host::{logging, server};

// glibc's malloc took about 13 % of the host's CPU under load (many small, short-lived
// request and delivery buffers across threads); mimalloc is made for that pattern. Built
// without transparent huge pages, which otherwise doubled resident memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sessionkeeper: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = args.overrides().map_err(anyhow::Error::msg)?;
    let mut settings = settings::load(&Sources::from_process(args.config.clone(), overrides))?;
    settings.accept_data_loss = args.accept_data_loss;
    logging::init(settings.log_json);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(async move {
        let target = server::redacted_url(&settings.laravel_api_url);
        let data_dir = settings.data_dir.clone();
        let auth = if settings.api_key.is_some() { "API key required" } else { "no API key" };
        // Signals are caught from before the address is announced: a SIGTERM sent as soon as
        // the service answers still stops it in order.
        let signal = shutdown_signal()?;
        let running = server::start(settings).await?;
        println!(
            "sessionkeeper listening on http://{} ({auth}), delivering to {target}, data in {}",
            running.addr,
            data_dir.display()
        );
        tracing::info!(addr = %running.addr, backend = %target, "listening");
        let stopping = running.stopping();
        tokio::select! {
            _ = signal => running.shutdown(),
            // A storage failure also stops the service; `wait` reports it.
            _ = stopping.cancelled() => {}
        }
        running.wait().await?;
        Ok(())
    })
}

/// SIGINT or SIGTERM, registered now, awaited later.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("install the SIGTERM handler")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("install the SIGINT handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT"),
            _ = term.recv() => tracing::info!("SIGTERM"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("ctrl-c");
        }
    })
}
