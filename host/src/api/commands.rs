//! `GET /commands`: close/reconnect commands as server-sent events, for the workers that own
//! the sockets. Each event's data is the command's JSON (`{type, sessionId, reason, at}`) and its
//! id the command's sequence number; `?sessionId=` limits the stream to one session. A client
//! that sends `Last-Event-ID` (browsers' EventSource does on reconnect) first gets the kept
//! commands after that id (the last 10,000, across restarts), then the live ones; an event
//! `lagged` `{"missed": n}` says n commands were lost to it (resync from `GET /sessions`).
//!
//! A catch-up is read from the shared log a page at a time, so a client costs the same however
//! far back it starts. A reader that falls [`CLIENT_CAP`] commands behind the live feed, or
//! whose backlog is dropped from the log before it read it, gets `lagged` and its stream ends:
//! it reconnects with its `Last-Event-ID` and catches up again.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::sync::Arc;

use futures_util::{stream, Stream, StreamExt};
use serde::Deserialize;
use sessionkeeper_core::Command;
use tokio::sync::broadcast;

use crate::command_log::{CatchUp, CommandLog, Page, CLIENT_CAP};

use super::error::AppError;
use super::AppState;

/// Query of `GET /commands`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandsQuery {
    /// Only this session's commands.
    session_id: Option<String>,
}

/// The handler.
pub async fn commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CommandsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let Query(query) = query?;
    let last_seen = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| AppError::bad_request("Last-Event-ID must be a command id (a number)"))?,
        ),
    };
    let catch_up = match last_seen {
        Some(after) => state.commands.subscribe_after(after),
        None => state.commands.subscribe(),
    };
    let filter = query.session_id;
    let wanted = move |command: &Command| filter.as_ref().is_none_or(|id| **id == *command.session_id);
    let reader = Reader::new(state.commands.clone(), catch_up);
    let events = stream::unfold(reader, |mut reader| async move {
        let item = reader.next().await?;
        Some((item, reader))
    })
    .filter_map(move |item| {
        std::future::ready(match item {
            Item::Command(id, command) => wanted(&command).then(|| Ok(event(id, &command))),
            Item::Lagged(missed) => Some(Ok(lagged(missed))),
        })
    });
    let stream = events.take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// What a reader produces next.
enum Item {
    Command(u64, Command),
    Lagged(u64),
}

/// One client's position: in its backlog (read from the log a page at a time), then live.
struct Reader {
    log: Arc<CommandLog>,
    cursor: u64,
    horizon: u64,
    gap: u64,
    page: std::vec::IntoIter<(u64, Command)>,
    /// Gone once the reader lagged: the stream ends.
    live: Option<broadcast::Receiver<(u64, Command)>>,
}

impl Reader {
    fn new(log: Arc<CommandLog>, catch_up: CatchUp) -> Self {
        Self {
            log,
            cursor: catch_up.from,
            horizon: catch_up.horizon,
            // Commands after `Last-Event-ID` that are no longer kept: the worker must resync,
            // as when it lags behind the live feed.
            gap: catch_up.missed,
            page: Vec::new().into_iter(),
            live: Some(catch_up.live),
        }
    }

    async fn next(&mut self) -> Option<Item> {
        if self.gap > 0 {
            return Some(Item::Lagged(std::mem::take(&mut self.gap)));
        }
        if let Some((id, command)) = self.page.next() {
            self.cursor = id;
            return Some(Item::Command(id, command));
        }
        if self.cursor < self.horizon {
            match self.log.page(self.cursor, self.horizon) {
                Page::Commands(page) if !page.is_empty() => {
                    self.page = page.into_iter();
                    let (id, command) = self.page.next().expect("not empty");
                    self.cursor = id;
                    return Some(Item::Command(id, command));
                }
                Page::Commands(_) => self.cursor = self.horizon,
                Page::Evicted { missed } => return self.drop_lagging(missed),
            }
        }
        let live = self.live.as_mut()?;
        if live.len() > CLIENT_CAP {
            let behind = live.len() as u64;
            return self.drop_lagging(behind);
        }
        match live.recv().await {
            Ok((id, command)) => Some(Item::Command(id, command)),
            Err(broadcast::error::RecvError::Lagged(missed)) => self.drop_lagging(missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    fn drop_lagging(&mut self, missed: u64) -> Option<Item> {
        self.live.take().map(|_| Item::Lagged(missed))
    }
}

fn lagged(missed: u64) -> Event {
    Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"))
}

fn event(id: u64, command: &Command) -> Event {
    Event::default().id(id.to_string()).json_data(command.to_event()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command_log::tests::close;
    use crate::command_log::{KEEP, PAGE};

    fn reader(log: &Arc<CommandLog>, after: Option<u64>) -> Reader {
        let catch_up = match after {
            Some(after) => log.subscribe_after(after),
            None => log.subscribe(),
        };
        Reader::new(log.clone(), catch_up)
    }

    async fn id(r: &mut Reader) -> u64 {
        match r.next().await {
            Some(Item::Command(id, _)) => id,
            Some(Item::Lagged(m)) => panic!("lagged {m}"),
            None => panic!("ended"),
        }
    }

    #[tokio::test]
    async fn a_live_reader_past_its_cap_gets_lagged_and_its_stream_ends() {
        let log = Arc::new(CommandLog::new(Vec::new()));
        let mut r = reader(&log, None);
        log.publish(1, close("a"));
        assert_eq!(id(&mut r).await, 1);
        for n in 2..=(CLIENT_CAP as u64 + 2) {
            log.publish(n, close("a"));
        }
        assert!(matches!(r.next().await, Some(Item::Lagged(m)) if m == CLIENT_CAP as u64 + 1));
        assert!(r.next().await.is_none(), "dropped: it reconnects with Last-Event-ID");
    }

    #[tokio::test]
    async fn a_catch_up_reads_pages_then_live_without_gap_or_repeat() {
        let log = Arc::new(CommandLog::new((1..=200).map(|n| (n, close("a"))).collect()));
        let mut r = reader(&log, Some(10));
        log.publish(201, close("b"));
        let mut got = Vec::new();
        for _ in 0..191 {
            got.push(id(&mut r).await);
        }
        assert_eq!(got, (11..=201).collect::<Vec<_>>());
        assert!(r.page.len() <= PAGE, "a page at a time");
    }

    #[tokio::test]
    async fn a_catch_up_overtaken_by_the_log_gets_lagged_and_ends() {
        let log = Arc::new(CommandLog::new((1..=100).map(|n| (n, close("a"))).collect()));
        let mut r = reader(&log, Some(0));
        assert_eq!(id(&mut r).await, 1);
        // The log moves on by more than it keeps before this reader reads on; the live feed's
        // own buffer overflows too, so it is told either way.
        for n in 101..=(KEEP as u64 + 200) {
            log.publish(n, close("a"));
        }
        let mut seen = 1;
        loop {
            match r.next().await {
                Some(Item::Command(id, _)) => {
                    assert_eq!(id, seen + 1);
                    seen = id;
                }
                Some(Item::Lagged(missed)) => {
                    assert!(missed > 0);
                    break;
                }
                None => panic!("ended without lagged"),
            }
        }
        assert!(r.next().await.is_none());
    }

    #[tokio::test]
    async fn an_id_from_before_a_store_reset_gets_lagged_then_the_whole_log() {
        // The store was lost and accepted as lost: ids start at 1 again, the worker saw 5,000.
        let log = Arc::new(CommandLog::new((1..=3).map(|n| (n, close("a"))).collect()));
        let mut r = reader(&log, Some(5_000));
        assert!(matches!(r.next().await, Some(Item::Lagged(4_997))));
        log.publish(4, close("b"));
        let got = [id(&mut r).await, id(&mut r).await, id(&mut r).await, id(&mut r).await];
        assert_eq!(got, [1, 2, 3, 4]);
    }
}
