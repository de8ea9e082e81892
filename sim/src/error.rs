//! The simulator's error type.

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Bad command-line arguments (also `--help`, which clap reports this way).
    #[error("{0}")]
    Args(String),
    /// The core refused its config.
    #[error("sessionkeeper core: {0}")]
    Core(String),
    /// A policy kept asking for a timer at the same instant.
    #[error("policy {policy} is stuck at t = {at} ms")]
    Stuck {
        /// Policy.
        policy: String,
        /// Virtual time.
        at: u64,
    },
    /// A scenario value is unusable.
    #[error("invalid scenario: {0}")]
    Scenario(String),
    /// Writing the plot failed.
    #[error("plot: {0}")]
    Plot(String),
    /// Writing output failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
