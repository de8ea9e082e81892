//! The `/commands` log: every published socket command gets a sequence id (the SSE event id).
//! The last [`KEEP`] are held in memory so a worker that reconnects with `Last-Event-ID` gets
//! what it missed, and they are stored with the journal (same transaction) so commands issued
//! just before a crash are still there after the restart.

use std::collections::VecDeque;
use std::sync::Mutex;

use sessionkeeper_core::Command;
use tokio::sync::broadcast;

/// Commands kept for catching up (in memory and in the store).
pub const KEEP: usize = 10_000;

/// Subscribers that fall this many commands behind are told they lagged.
const BUFFER: usize = 4_096;

/// A command and its id.
pub type Numbered = (u64, Command);

/// What a subscriber catching up gets.
pub struct CatchUp {
    /// Kept commands after the given id, oldest first.
    pub backlog: Vec<Numbered>,
    /// Everything published after them.
    pub live: broadcast::Receiver<Numbered>,
    /// Commands after the given id that are no longer kept.
    pub missed: u64,
}

/// Recent commands plus the live feed.
pub struct CommandLog {
    recent: Mutex<VecDeque<Numbered>>,
    live: broadcast::Sender<Numbered>,
}

impl CommandLog {
    /// A log holding `recent` (oldest first, as stored).
    pub fn new(recent: Vec<Numbered>) -> Self {
        let (live, _) = broadcast::channel(BUFFER);
        let mut recent = VecDeque::from(recent);
        while recent.len() > KEEP {
            recent.pop_front();
        }
        Self { recent: Mutex::new(recent), live }
    }

    /// The id the next command gets.
    pub fn next_id(&self) -> u64 {
        self.recent.lock().expect("command log lock").back().map_or(1, |(id, _)| id + 1)
    }

    /// Publishes a command (already stored).
    pub fn publish(&self, id: u64, command: Command) {
        let mut recent = self.recent.lock().expect("command log lock");
        recent.push_back((id, command.clone()));
        if recent.len() > KEEP {
            recent.pop_front();
        }
        // Sent under the lock, so a subscriber sees each command in its backlog or live, once.
        let _ = self.live.send((id, command));
    }

    /// The live feed only.
    pub fn subscribe(&self) -> broadcast::Receiver<Numbered> {
        self.live.subscribe()
    }

    /// The kept commands after `after`, then the live feed from there on (no gap, no repeat),
    /// and how many commands after `after` are no longer kept (ids are consecutive).
    pub fn subscribe_after(&self, after: u64) -> CatchUp {
        let recent = self.recent.lock().expect("command log lock");
        let live = self.live.subscribe();
        let start = recent.partition_point(|(id, _)| *id <= after);
        let backlog: Vec<Numbered> = recent.range(start..).cloned().collect();
        let missed = backlog.first().map_or(0, |(first, _)| first.saturating_sub(after + 1));
        CatchUp { backlog, live, missed }
    }
}

#[cfg(test)]
mod tests {

    use sessionkeeper_core::{CommandKind, Reason};

    use super::*;

    fn close(id: &str) -> Command {
        Command {
            kind: CommandKind::Close,
            session_id: id.into(),
            reason: Reason::Operator("test".into()),
            at: 1,
        }
    }

    #[test]
    fn catch_up_then_live_without_gap_or_repeat() {
        let log = CommandLog::new(vec![(7, close("a")), (8, close("b"))]);
        assert_eq!(log.next_id(), 9);
        let CatchUp { backlog, mut live, missed } = log.subscribe_after(7);
        assert_eq!(backlog.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![8]);
        assert_eq!(missed, 0);
        log.publish(9, close("c"));
        assert_eq!(live.try_recv().unwrap().0, 9);
        assert!(live.try_recv().is_err());
        assert_eq!(log.subscribe_after(0).backlog.len(), 3);
        // Ids 1 to 6 came before what is kept.
        assert_eq!(log.subscribe_after(0).missed, 6);
        assert_eq!(log.subscribe_after(9).backlog.len(), 0);
    }

    #[test]
    fn keeps_the_last_ones_only() {
        let log = CommandLog::new(Vec::new());
        assert_eq!(log.next_id(), 1);
        for id in 1..=(KEEP as u64 + 5) {
            log.publish(id, close("s"));
        }
        let catch_up = log.subscribe_after(0);
        assert_eq!(catch_up.backlog.len(), KEEP);
        assert_eq!(catch_up.backlog[0].0, 6);
        assert_eq!(catch_up.missed, 5);
    }
}
