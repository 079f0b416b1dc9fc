//! PostgreSQL `LISTEN`: calls back for every notification on a channel, and tells the
//! caller when notifications may have been missed (the connection dropped), so that a
//! cache built on them can start over rather than serve stale entries.

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgListener;

/// What a listener reports.
#[derive(Debug)]
pub enum Event {
    /// A notification's payload.
    Notification(String),
    /// The connection was lost (or just made): anything may have changed meanwhile.
    Gap,
}

/// The listening task; stops when dropped.
pub struct Listening(tokio::task::JoinHandle<()>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const RETRY: Duration = Duration::from_millis(250);

/// Listens on `channel` at `url` from a background task of the current runtime.
pub fn listen<F, Fut>(url: String, channel: &'static str, mut on_event: F) -> Listening
where
    F: FnMut(Event) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    Listening(tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect(&url).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::debug!(%error, channel, "LISTEN connection failed; retrying");
                    on_event(Event::Gap).await;
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen(channel).await {
                tracing::warn!(%error, channel, "LISTEN failed; retrying");
                on_event(Event::Gap).await;
                tokio::time::sleep(RETRY).await;
                continue;
            }
            // Whatever happened before LISTEN took effect is unknown to us.
            on_event(Event::Gap).await;
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        on_event(Event::Notification(notification.payload().to_owned())).await
                    }
                    // The connection dropped; sqlx reconnects and listens again on the
                    // next call, but what was sent meanwhile is lost.
                    Ok(None) => on_event(Event::Gap).await,
                    Err(error) => {
                        tracing::warn!(%error, channel, "LISTEN connection lost; reconnecting");
                        on_event(Event::Gap).await;
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
            }
        }
    }))
}
