//! # sessionkeeper-sim
//!
//! A deterministic, virtual-time, discrete-event simulator of a WhatsApp gateway fleet (users,
//! Baileys sockets, a backend API) that runs the same seeded scenario under several gateway
//! control policies and measures what reaches the backend:
//!
//! - `seed-before` and `seed-after`: small explicit models of the seed gateway before and after
//!   its v2.2 fixes ([`policies::SeedBefore`], [`policies::SeedAfter`]);
//! - `sessionkeeper` / `sessionkeeper-adaptive`: the real [`sessionkeeper_core::Keeper`] with its
//!   defaults, fixed or adaptive pacing ([`policies::KeeperPolicy`]).
//!
//! Use [`simulate`] for one policy, [`simulate_all`] for a report, or [`run_cli`] for the command
//! line (`--users N --hours H --seed S --json --plot FILE.svg --pacing fixed|adaptive`). The
//! default scenario is [`Scenario::default_for`] and is documented in `sim/README.md`.

mod backend;
mod cli;
mod engine;
mod error;
mod events;
mod metrics;
mod plot;
pub mod policies;
mod report;
mod scenario;
mod stats;
mod users;

pub use cli::{run_cli, run_cli_to};
pub use error::SimError;
pub use metrics::PENDING_LIMIT_MS;
pub use plot::write_plot;
pub use report::{PolicyReport, Sample, SimReport};
pub use scenario::{BackendModel, Outage, OutageKind, Scenario, SlowWindow, HOUR_MS, MINUTE_MS};

use policies::{KeeperPolicy, PolicyModel, SeedAfter, SeedBefore};
use sessionkeeper_core::PacingMode;

/// The policies the simulator can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Policy {
    /// The seed before its fixes.
    SeedBefore,
    /// The seed with its v2.2 fixes.
    SeedAfter,
    /// The keeper, defaults, fixed pacing.
    Sessionkeeper,
    /// The keeper, defaults, adaptive pacing.
    SessionkeeperAdaptive,
}

impl Policy {
    /// Every policy, in report order.
    pub const ALL: [Policy; 4] =
        [Policy::SeedBefore, Policy::SeedAfter, Policy::Sessionkeeper, Policy::SessionkeeperAdaptive];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::SeedBefore => "seed-before",
            Policy::SeedAfter => "seed-after",
            Policy::Sessionkeeper => "sessionkeeper",
            Policy::SessionkeeperAdaptive => "sessionkeeper-adaptive",
        }
    }
}

/// Runs one policy on the scenario.
pub fn simulate(scenario: &Scenario, policy: Policy) -> Result<PolicyReport, SimError> {
    validate(scenario)?;
    let mut model: Box<dyn PolicyModel> = match policy {
        Policy::SeedBefore => Box::new(SeedBefore::new()),
        Policy::SeedAfter => Box::new(SeedAfter::new()),
        Policy::Sessionkeeper => Box::new(KeeperPolicy::new(PacingMode::Fixed)?),
        Policy::SessionkeeperAdaptive => Box::new(KeeperPolicy::new(PacingMode::Adaptive)?),
    };
    engine::World::new(scenario, model.as_mut()).run()
}

/// Runs several policies on the same scenario.
pub fn simulate_all(scenario: &Scenario, policies: &[Policy]) -> Result<SimReport, SimError> {
    let policies = policies.iter().map(|p| simulate(scenario, *p)).collect::<Result<Vec<_>, _>>()?;
    Ok(SimReport { scenario: scenario.clone(), policies })
}

fn validate(sc: &Scenario) -> Result<(), SimError> {
    if !(sc.hours > 0.0 && sc.hours <= 24.0 * 31.0) {
        return Err(SimError::Scenario(format!("hours must be in (0, 744], got {}", sc.hours)));
    }
    if sc.users > 1_000_000 {
        return Err(SimError::Scenario(format!("users must be at most 1000000, got {}", sc.users)));
    }
    if sc.backend.workers == 0 || sc.backend.service_median_ms <= 0.0 || sc.sample_every_ms == 0 {
        return Err(SimError::Scenario("backend workers, service time and sampling must be positive".into()));
    }
    if sc.logouts_per_day < 0.0 || sc.drop_mean_ms == 0 {
        return Err(SimError::Scenario("drop and logout rates must be positive".into()));
    }
    Ok(())
}
