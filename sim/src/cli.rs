//! The command line: `sessionkeeper sim --users N --hours H --seed S [--json] [--plot FILE.svg]
//! [--pacing fixed|adaptive]`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};

use crate::error::SimError;
use crate::plot::write_plot;
use crate::report::SimReport;
use crate::scenario::Scenario;
use crate::{simulate, Policy};

/// Which keeper pacing to run (both when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PacingArg {
    /// `syncSpacing` 400 ms.
    Fixed,
    /// AIMD toward the backend's capacity.
    Adaptive,
}

/// Fleet simulator: seed-before, seed-after and sessionkeeper on the same seeded scenario.
#[derive(Debug, Parser)]
#[command(name = "sessionkeeper sim", about, long_about = None)]
struct Args {
    /// Users (one WhatsApp session each).
    #[arg(long, default_value_t = 1_000)]
    users: u32,
    /// Simulated hours.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Write an SVG plot (queue depth, breaker state, sessions held over time per policy).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Run sessionkeeper with this pacing only (default: both fixed and adaptive).
    #[arg(long, value_enum)]
    pacing: Option<PacingArg>,
}

/// Parses `args` (without the program name or the word `sim`), runs, prints to stdout.
pub fn run_cli(args: Vec<String>) -> Result<(), SimError> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    run_cli_to(args, &mut lock)
}

/// Like [`run_cli`], writing to `out`.
pub fn run_cli_to(args: Vec<String>, out: &mut dyn Write) -> Result<(), SimError> {
    let argv = std::iter::once("sessionkeeper-sim".to_owned()).chain(args);
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            write!(out, "{e}")?;
            return Ok(());
        }
        Err(e) => return Err(SimError::Args(e.to_string())),
    };
    let scenario = Scenario::default_for(args.users, args.hours, args.seed);
    let policies: Vec<Policy> = match args.pacing {
        None => Policy::ALL.to_vec(),
        Some(PacingArg::Fixed) => vec![Policy::SeedBefore, Policy::SeedAfter, Policy::Sessionkeeper],
        Some(PacingArg::Adaptive) => {
            vec![Policy::SeedBefore, Policy::SeedAfter, Policy::SessionkeeperAdaptive]
        }
    };
    let mut reports = Vec::with_capacity(policies.len());
    let mut walls = Vec::with_capacity(policies.len());
    for policy in policies {
        // Wall time is reported in the table only: the JSON stays byte-identical for a seed.
        let started = Instant::now();
        reports.push(simulate(&scenario, policy)?);
        walls.push((policy.name(), started.elapsed()));
    }
    let report = SimReport { scenario, policies: reports };
    if let Some(path) = &args.plot {
        write_plot(&report, path)?;
    }
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        write!(out, "{}", report.table())?;
        let walls: Vec<String> =
            walls.iter().map(|(name, d)| format!("{name} {:.2} s", d.as_secs_f64())).collect();
        writeln!(out, "wall time: {}", walls.join(", "))?;
        if let Some(path) = &args.plot {
            writeln!(out, "plot written to {}", path.display())?;
        }
    }
    Ok(())
}
