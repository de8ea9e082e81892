//! The command line: `sessionkeeper [serve] [flags]`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// sessionkeeper: keeps a multi-user WhatsApp (Baileys) gateway healthy.
#[derive(Debug, Parser)]
#[command(name = "sessionkeeper", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve(ServeArgs),
}

/// Flags of `serve`. Every configuration key can also come from `--config` (TOML) or an
/// `SK_<KEY>` environment variable; flags win over both, the environment over the file.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// TOML file of configuration keys (camelCase, e.g. `pendingSessionTimeout = 120000`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Port of the HTTP API (`port`, default 4000).
    #[arg(long)]
    pub port: Option<String>,
    /// Bind address (`host`, default 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Storage directory (`dataDir`, default ./data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Backend base URL (`laravelApiUrl`).
    #[arg(long, value_name = "URL")]
    pub laravel_api_url: Option<String>,
    /// Allow a non-loopback bind without an apiKey (`allowPublicBind`).
    #[arg(long)]
    pub allow_insecure_bind: bool,
    /// Start even though the store lost committed entries (a deleted WAL, a replaced
    /// database): go on from what is left, after logging what is gone. A flag only, never a
    /// configuration key, so it cannot stay on by accident.
    #[arg(long)]
    pub accept_data_loss: bool,
    /// JSON log lines (`logJson`).
    #[arg(long)]
    pub log_json: bool,
    /// Any configuration key, e.g. `--set syncSpacing=100` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ServeArgs {
    /// The flags as `(key, raw value, flag name)` for the settings loader.
    pub fn overrides(&self) -> Result<Vec<(String, String, String)>, String> {
        let mut out = Vec::new();
        let named = [
            ("port", &self.port, "--port"),
            ("host", &self.host, "--host"),
            ("dataDir", &self.data_dir, "--data-dir"),
            ("laravelApiUrl", &self.laravel_api_url, "--laravel-api-url"),
        ];
        for (key, value, flag) in named {
            if let Some(v) = value {
                out.push((key.to_owned(), v.clone(), format!("flag {flag}")));
            }
        }
        if self.allow_insecure_bind {
            out.push(("allowPublicBind".into(), "true".into(), "flag --allow-insecure-bind".into()));
        }
        if self.log_json {
            out.push(("logJson".into(), "true".into(), "flag --log-json".into()));
        }
        for pair in &self.set {
            let (k, v) = pair.split_once('=').ok_or_else(|| format!("--set {pair}: expected KEY=VALUE"))?;
            out.push((k.trim().to_owned(), v.to_owned(), format!("flag --set {}", k.trim())));
        }
        Ok(out)
    }
}
