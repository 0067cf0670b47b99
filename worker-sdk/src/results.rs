//! Result delivery, batched when the orchestrator allows it.
//!
//! Runners put each result on the [`ResultQueue`] and wait for its answer. One sender
//! loop ([`run`]) takes the first waiting result, then everything else already waiting
//! (up to [`MAX_BATCH`]), and sends them as one request; at most [`MAX_IN_FLIGHT`]
//! requests are out at once, and while they are, new results gather for the next one.
//! So a lone result goes out at once, alone, and under load results share requests: no
//! timer, no added latency. A batch of one uses the single RXON route; so does everything
//! once the server turned out not to have the batch route.

use std::sync::{Arc, Mutex};

use baton_protocol::{ResultAck, TaskResult};
use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::WorkerError;
use crate::state::Shared;

/// Most results in one request.
pub(crate) const MAX_BATCH: usize = 64;
/// Most result requests in flight at once.
const MAX_IN_FLIGHT: usize = 4;

type Reply = oneshot::Sender<Result<ResultAck, WorkerError>>;

struct Pending {
    result: TaskResult,
    reply: Reply,
}

pub(crate) struct ResultQueue {
    tx: mpsc::UnboundedSender<Pending>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Pending>>>,
}

impl ResultQueue {
    pub(crate) fn new() -> ResultQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        ResultQueue {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Queues a result and waits for the orchestrator's answer.
    pub(crate) async fn submit(&self, result: TaskResult) -> Result<ResultAck, WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { result, reply })
            .map_err(|_| WorkerError::Delivery("the result sender has stopped".into()))?;
        answer
            .await
            .map_err(|_| WorkerError::Delivery("the result sender has stopped".into()))?
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Pending>> {
        self.rx.lock().ok()?.take()
    }
}

/// The sender loop; runs until `stop` (after every runner has its answer).
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(mut rx) = shared.results.take_receiver() else {
        tracing::error!("result sender started twice");
        return;
    };
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut sends = JoinSet::new();
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            first = rx.recv() => match first {
                Some(p) => p,
                None => break,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        while sends.try_join_next().is_some() {}
        let shared = shared.clone();
        sends.spawn(async move {
            send(&shared, batch).await;
            drop(permit);
        });
    }
    while sends.join_next().await.is_some() {}
}

async fn send(shared: &Shared, batch: Vec<Pending>) {
    if batch.len() > 1 && shared.batch_routes() {
        let results: Vec<TaskResult> = batch.iter().map(|p| p.result.clone()).collect();
        let config = &shared.config;
        match shared
            .client
            .submit_results(
                &results,
                config.result_max_retries,
                config.result_retry_initial_delay,
            )
            .await
        {
            Ok(acks) => {
                for (p, ack) in batch.into_iter().zip(acks) {
                    let _ = p.reply.send(Ok(ack));
                }
                return;
            }
            Err(e) if e.is_missing_route() => shared.disable_batch_routes(),
            Err(e) => {
                let message = e.to_string();
                for p in batch {
                    let _ = p.reply.send(Err(WorkerError::Delivery(message.clone())));
                }
                return;
            }
        }
    }
    join_all(batch.into_iter().map(|p| async move {
        let config = &shared.config;
        let answer = shared
            .client
            .submit_result(
                &p.result,
                config.result_max_retries,
                config.result_retry_initial_delay,
            )
            .await;
        let _ = p.reply.send(answer);
    }))
    .await;
}
