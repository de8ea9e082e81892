//! `GET /commands`: close/reconnect commands as server-sent events, for the workers that own
//! the sockets. Each event's data is the command's JSON (`{type, sessionId, reason, at}`) and its
//! id the command's sequence number; `?sessionId=` limits the stream to one session. A client
//! that sends `Last-Event-ID` (browsers' EventSource does on reconnect) first gets the kept
//! commands after that id (the last 10,000, across restarts), then the live ones; an event
//! `lagged` `{"missed": n}` says n commands were lost to it (resync from `GET /sessions`).

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{stream, Stream, StreamExt};
use serde::Deserialize;
use sessionkeeper_core::Command;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};

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
    let (backlog, live, missed) = match last_seen {
        Some(after) => {
            let c = state.commands.subscribe_after(after);
            (c.backlog, c.live, c.missed)
        }
        None => (Vec::new(), state.commands.subscribe(), 0),
    };
    let filter = query.session_id;
    let wanted = move |command: &Command| filter.as_ref().is_none_or(|id| **id == *command.session_id);
    let keep = wanted.clone();
    let backlog = stream::iter(backlog)
        .filter_map(move |(id, command)| std::future::ready(keep(&command).then(|| Ok(event(id, &command)))));
    let live = BroadcastStream::new(live).filter_map(move |item| {
        let event = match item {
            Ok((id, command)) => wanted(&command).then(|| event(id, &command)),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(lagged(missed)),
        };
        std::future::ready(event.map(Ok))
    });
    // Commands after `Last-Event-ID` that are no longer kept: the worker must resync, as when
    // it lags behind the live feed.
    let gap = (missed > 0).then(|| Ok(lagged(missed)));
    let stream =
        stream::iter(gap).chain(backlog).chain(live).take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn lagged(missed: u64) -> Event {
    Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"))
}

fn event(id: u64, command: &Command) -> Event {
    Event::default().id(id.to_string()).json_data(command.to_event()).unwrap_or_default()
}
