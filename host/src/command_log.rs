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

/// Commands the live feed holds for its slowest subscriber (shared, not per subscriber).
const BUFFER: usize = 4_096;

/// Commands one subscriber may have waiting before it is dropped with a `lagged` event.
pub const CLIENT_CAP: usize = 1_024;

/// Kept commands copied per step of a catch-up (a catch-up never copies the whole log).
pub const PAGE: usize = 64;

/// A command and its id.
pub type Numbered = (u64, Command);

/// What a subscriber catching up gets: where its backlog ends and the live feed after it.
/// The backlog itself is read a [`PAGE`] at a time with [`CommandLog::page`].
pub struct CatchUp {
    /// The first kept command after the given id is after this one.
    pub from: u64,
    /// The last command of the backlog; the live feed starts after it.
    pub horizon: u64,
    /// Everything published after `horizon`.
    pub live: broadcast::Receiver<Numbered>,
    /// Commands after the given id that were no longer kept when it subscribed.
    pub missed: u64,
}

/// A page of a catch-up.
#[derive(Debug)]
pub enum Page {
    /// The next kept commands after the given id, up to the horizon (empty at its end).
    Commands(Vec<Numbered>),
    /// The next command was dropped from the log while the reader was reading: it lagged.
    Evicted {
        /// Commands it will not get.
        missed: u64,
    },
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

    /// The live feed only: a catch-up with nothing to catch up on.
    pub fn subscribe(&self) -> CatchUp {
        CatchUp { from: 0, horizon: 0, live: self.live.subscribe(), missed: 0 }
    }

    /// A catch-up after `after`: the kept commands up to now are read with [`Self::page`], then
    /// the live feed from there on (no gap, no repeat: both are fixed under one lock). `missed`
    /// counts the commands after `after` no longer kept (ids are consecutive).
    ///
    /// An id past the newest command was handed out before the store was reset (a start with
    /// `--accept-data-loss` on a lost database numbers commands from 1 again): the worker gets
    /// `lagged` (the commands up to its id are gone, it must resync) and then the whole log.
    pub fn subscribe_after(&self, after: u64) -> CatchUp {
        let recent = self.recent.lock().expect("command log lock");
        let live = self.live.subscribe();
        let newest = recent.back().map_or(0, |(id, _)| *id);
        if after > newest {
            let from = recent.front().map_or(0, |(id, _)| id - 1);
            return CatchUp { from, horizon: newest, live, missed: after - newest };
        }
        let oldest = recent.front().map_or(newest + 1, |(id, _)| *id);
        let missed = oldest.saturating_sub(after + 1).min(newest - after);
        CatchUp { from: after.max(oldest.saturating_sub(1)), horizon: newest, live, missed }
    }

    /// Up to [`PAGE`] kept commands after `after` and at most `horizon`.
    pub fn page(&self, after: u64, horizon: u64) -> Page {
        let recent = self.recent.lock().expect("command log lock");
        if after >= horizon {
            return Page::Commands(Vec::new());
        }
        match recent.front() {
            Some((oldest, _)) if *oldest <= after + 1 => {}
            Some((oldest, _)) => return Page::Evicted { missed: oldest.min(&(horizon + 1)) - after - 1 },
            None => return Page::Evicted { missed: horizon - after },
        }
        let start = recent.partition_point(|(id, _)| *id <= after);
        Page::Commands(
            recent.range(start..).take_while(|(id, _)| *id <= horizon).take(PAGE).cloned().collect(),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {

    use sessionkeeper_core::{CommandKind, Reason};

    use super::*;

    /// A `close` command for `id`.
    pub(crate) fn close(id: &str) -> Command {
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
        let CatchUp { from, horizon, mut live, missed } = log.subscribe_after(7);
        assert_eq!(ids(log.page(from, horizon)), vec![8]);
        assert_eq!(missed, 0);
        log.publish(9, close("c"));
        assert_eq!(live.try_recv().unwrap().0, 9);
        assert!(live.try_recv().is_err());
        assert_eq!(ids(log.page(8, horizon)), Vec::<u64>::new(), "the horizon ends the backlog");
        let all = log.subscribe_after(0);
        assert_eq!(ids(log.page(all.from, all.horizon)), vec![7, 8, 9]);
        // Ids 1 to 6 came before what is kept.
        assert_eq!(all.missed, 6);
        let none = log.subscribe_after(9);
        assert_eq!(ids(log.page(none.from, none.horizon)), Vec::<u64>::new());
        assert_eq!(none.missed, 0);
    }

    #[test]
    fn keeps_the_last_ones_only() {
        let log = CommandLog::new(Vec::new());
        assert_eq!(log.next_id(), 1);
        for id in 1..=(KEEP as u64 + 5) {
            log.publish(id, close("s"));
        }
        let catch_up = log.subscribe_after(0);
        assert_eq!(catch_up.missed, 5);
        let first = ids(log.page(catch_up.from, catch_up.horizon));
        assert_eq!(first.len(), PAGE, "read a page at a time, never the whole log");
        assert_eq!(first[0], 6);
    }

    #[test]
    fn a_reader_overtaken_by_eviction_is_told_what_it_missed() {
        let log = CommandLog::new(Vec::new());
        for id in 1..=10 {
            log.publish(id, close("s"));
        }
        let catch_up = log.subscribe_after(0);
        assert_eq!(catch_up.horizon, 10);
        for id in 11..=(KEEP as u64 + 3) {
            log.publish(id, close("s"));
        }
        // Ids 1 to 3 were dropped while it had not read them.
        assert!(matches!(log.page(0, catch_up.horizon), Page::Evicted { missed: 3 }));
    }

    fn ids(page: Page) -> Vec<u64> {
        match page {
            Page::Commands(c) => c.into_iter().map(|(id, _)| id).collect(),
            Page::Evicted { missed } => panic!("evicted, missed {missed}"),
        }
    }
}
