//! `sessionkeeper-sim`: the fleet simulator on its own (`sessionkeeper sim` in the host does the same).

use sessionkeeper_sim::SimError;

fn main() -> anyhow::Result<()> {
    match sessionkeeper_sim::run_cli(std::env::args().skip(1).collect()) {
        // The reader went away (`| head`): nothing left to say.
        Err(SimError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
