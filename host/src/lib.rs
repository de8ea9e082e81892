//! # sessionkeeper-host
//!
//! The native sessionkeeper service: the sans-IO [`sessionkeeper_core::Keeper`] driven by one
//! tokio task ([`driver`]), an axum HTTP API ([`api::app`]), backend delivery with reqwest
//! ([`delivery`]), durability in SQLite ([`store`], [`recovery`]) and Prometheus metrics
//! ([`metrics`]). [`server::start`] wires it together; the `sessionkeeper` binary parses the
//! command line ([`cli`]) and configuration ([`settings`]) and calls it.
//!
//! Every accepted input is journaled (and committed) before its request is answered; a
//! restart restores the latest snapshot, replays the journal and re-sends whatever was in
//! flight, so each accepted item reaches the backend at least once (the `Idempotency-Key`
//! header lets it drop duplicates).

#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod command_log;
pub mod connections;
pub mod delivery;
pub mod driver;
pub mod logging;
pub mod metrics;
pub mod recovery;
pub mod server;
pub mod settings;
pub mod signing;
pub mod store;
