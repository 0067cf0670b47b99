//! The notice subscription: one dedicated Redis connection per orchestrator, subscribed to
//! the `wake`, `done` and `cmd` channels, forwarding each message as a [`Notice`].
//!
//! When the connection drops, notices published meanwhile are lost; after reconnecting the
//! subscriber emits [`Notice::Resync`] so waiting long-polls re-check their queues.

use crate::Keys;
use baton_store::Notice;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::broadcast;

/// Message on the command channel: `<worker_id>\n<command JSON>`.
pub(crate) fn command_message(worker_id: &str, command: &str) -> String {
    format!("{worker_id}\n{command}")
}

pub(crate) fn spawn(
    client: ::redis::Client,
    keys: Keys,
    notices: broadcast::Sender<Notice>,
    up: tokio::sync::watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let wake = keys.wake_channel();
        let cmd = keys.command_channel();
        let done = keys.done_channel();
        let mut delay = Duration::from_millis(100);
        let mut connected_before = false;
        loop {
            match subscribe(&client, &[&wake, &cmd, &done]).await {
                Ok(mut pubsub) => {
                    delay = Duration::from_millis(100);
                    if connected_before {
                        tracing::info!("notice subscription restored");
                    }
                    up.send_replace(true);
                    // Anything published while we were not subscribed is lost: re-check.
                    let _ = notices.send(Notice::Resync);
                    connected_before = true;
                    let mut stream = pubsub.on_message();
                    while let Some(msg) = stream.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        let channel = msg.get_channel_name();
                        let notice = if channel == wake {
                            match payload.split_once('|') {
                                Some((origin, skill)) => Notice::TaskReady {
                                    skill: skill.to_string(),
                                    origin: origin.to_string(),
                                },
                                None => Notice::TaskReady {
                                    skill: payload,
                                    origin: String::new(),
                                },
                            }
                        } else if channel == done {
                            match payload.split_once('|') {
                                Some((origin, job_id)) => Notice::JobDone {
                                    job_id: job_id.to_string(),
                                    origin: origin.to_string(),
                                },
                                None => Notice::JobDone {
                                    job_id: payload,
                                    origin: String::new(),
                                },
                            }
                        } else {
                            match payload.split_once('\n') {
                                Some((worker_id, command)) => Notice::Command {
                                    worker_id: worker_id.to_string(),
                                    payload: command.to_string(),
                                },
                                None => continue,
                            }
                        };
                        let _ = notices.send(notice);
                    }
                    up.send_replace(false);
                    tracing::warn!("notice subscription lost; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot subscribe to notices");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    })
}

async fn subscribe(
    client: &::redis::Client,
    channels: &[&str],
) -> ::redis::RedisResult<::redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    for channel in channels {
        pubsub.subscribe(*channel).await?;
    }
    Ok(pubsub)
}
