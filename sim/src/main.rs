//! `sessionkeeper-sim`: the fleet simulator on its own (`sessionkeeper sim` in the host does the same).

fn main() -> anyhow::Result<()> {
    sessionkeeper_sim::run_cli(std::env::args().skip(1).collect())?;
    Ok(())
}
