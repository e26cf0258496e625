//! How a node reaches the cluster's Redis: one server (alone, or behind a proxy that follows a
//! Sentinel master), or a Redis Cluster (`--redis` with several comma-separated URLs: its seed
//! nodes).
//!
//! On a Redis Cluster the channels are sharded (`SPUBLISH`/`SSUBSCRIBE`): each room's messages
//! go to the one shard that owns the room's channel, and from there only to the nodes following
//! the room. The names' keys share one hash tag (`{names}`), so each claim or release script
//! touches one shard.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Where the cluster's Redis is.
#[derive(Clone)]
pub enum RedisTarget {
    Single(redis::Client),
    /// A Redis Cluster's seed nodes.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// One URL: one server; several, separated by commas: a Redis Cluster.
    pub fn parse(urls: &str) -> anyhow::Result<RedisTarget> {
        let urls: Vec<String> = urls
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        match urls.as_slice() {
            [] => anyhow::bail!("--redis needs a URL"),
            [one] => Ok(RedisTarget::Single(
                redis::Client::open(one.as_str())
                    .with_context(|| format!("invalid --redis URL {one:?}"))?,
            )),
            many => {
                ClusterClient::new(many.to_vec()).context("invalid --redis URLs")?;
                Ok(RedisTarget::Cluster(many.to_vec()))
            }
        }
    }

    /// A connection for commands, reconnecting by itself (it must answer at start).
    pub async fn connect(&self) -> anyhow::Result<RedisConn> {
        let connecting = async {
            match self {
                RedisTarget::Single(client) => {
                    Ok(RedisConn::Single(client.get_connection_manager().await?))
                }
                RedisTarget::Cluster(urls) => {
                    let client = ClusterClient::new(urls.clone())?;
                    Ok(RedisConn::Cluster(client.get_async_connection().await?))
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer within 10 s"))?
            .map_err(|e: redis::RedisError| anyhow::anyhow!("cannot connect to Redis: {e}"))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisTarget::Cluster(_))
    }

    /// The command that publishes on a channel: sharded on a Redis Cluster.
    pub fn publish_command(&self) -> &'static str {
        match self {
            RedisTarget::Single(_) => "PUBLISH",
            RedisTarget::Cluster(_) => "SPUBLISH",
        }
    }
}

/// A connection for commands to either kind of Redis.
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}
