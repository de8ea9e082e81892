//! `GET /commands`: close/reconnect commands as server-sent events, for the workers that own
//! the sockets. Each event's data is the command's JSON (`{type, sessionId, reason, at}`);
//! `?sessionId=` limits the stream to one session.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
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
    query: Result<Query<CommandsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let Query(query) = query?;
    let filter = query.session_id;
    let stream = BroadcastStream::new(state.commands.subscribe())
        .filter_map(move |item| {
            let event = match item {
                Ok(command) => {
                    if filter.as_ref().is_some_and(|id| **id != *command.session_id) {
                        None
                    } else {
                        Some(Event::default().json_data(command.to_event()).unwrap_or_default())
                    }
                }
                Err(BroadcastStreamRecvError::Lagged(missed)) => {
                    Some(Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}")))
                }
            };
            std::future::ready(event.map(Ok))
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
