//! An HTTP endpoint that records completion webhooks, optionally failing the first calls.

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

#[derive(Clone)]
pub struct WebhookSink {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    attempts: Arc<AtomicUsize>,
}

impl WebhookSink {
    /// Listens on port 0; the first `fail_first` calls are answered 500.
    pub async fn start(fail_first: usize) -> WebhookSink {
        let received = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(AtomicUsize::new(0));
        let (r, a) = (received.clone(), attempts.clone());
        let route = warp::post()
            .and(warp::body::json())
            .map(move |body: Value| {
                let n = a.fetch_add(1, Ordering::SeqCst);
                if n < fail_first {
                    return warp::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                r.lock().expect("lock").push(body);
                warp::http::StatusCode::OK
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(route).incoming(listener).run());
        WebhookSink {
            url: format!("http://{addr}/hook"),
            received,
            attempts,
        }
    }

    pub fn received(&self) -> Vec<Value> {
        self.received.lock().expect("lock").clone()
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// Waits until `n` webhooks were accepted.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} webhooks, got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
