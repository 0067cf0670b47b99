//! The pool of Redis command connections.
//!
//! Each pooled object is a multiplexed connection; the stock `deadpool-redis` manager
//! sends `UNWATCH` + `PING` every time one is checked out, which doubled Baton's round
//! trips per job. This manager (built on the same `deadpool` pool) instead remembers
//! whether a connection failed: a connection that saw an I/O error is dropped on return,
//! and only one idle for a while is pinged before reuse.

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A connection unused for longer than this is pinged before it is handed out again.
const IDLE_CHECK: Duration = Duration::from_secs(10);

pub struct Conn {
    inner: MultiplexedConnection,
    broken: AtomicBool,
}

impl Conn {
    fn watch<T>(&self, result: &RedisResult<T>) {
        if let Err(e) = result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error()
                || e.is_timeout()
            {
                self.broken.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let result = self.inner.req_packed_command(cmd).await;
            self.watch(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let result = self
                .inner
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.watch(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

pub struct Manager {
    client: redis::Client,
    config: AsyncConnectionConfig,
}

impl Manager {
    pub fn new(url: &str) -> RedisResult<Manager> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // Scripts are short, but a busy Redis on a small machine can pause; the
            // library's 500 ms default turns such pauses into failed requests.
            .set_response_timeout(Some(Duration::from_secs(5)));
        Ok(Manager {
            client: redis::Client::open(url)?,
            config,
        })
    }
}

impl managed::Manager for Manager {
    type Type = Conn;
    type Error = RedisError;

    async fn create(&self) -> Result<Conn, RedisError> {
        let inner = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Conn {
            inner,
            broken: AtomicBool::new(false),
        })
    }

    async fn recycle(&self, conn: &mut Conn, metrics: &Metrics) -> RecycleResult<RedisError> {
        if conn.broken.load(Ordering::Relaxed) {
            return Err(RecycleError::message("connection failed earlier"));
        }
        if metrics.last_used() > IDLE_CHECK {
            let _: String = redis::cmd("PING").query_async(conn).await?;
        }
        Ok(())
    }
}

pub type Pool = managed::Pool<Manager>;

/// A checked-out connection; goes back to the pool when dropped.
pub struct Connection(pub managed::Object<Manager>);

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
