//! Changes to shared facts carried between the nodes of a cluster through Redis pub/sub: a node
//! publishes each [`NetworkEvent`] it makes (a ban, a mute, a lock, a topic, ...) on one channel,
//! and applies those of the other nodes as they arrive (`HubMsg::Network`). The database keeps
//! the facts (the node that made a change stored it), so an event missed while Redis was away
//! costs only its immediacy: a node that starts reads them from the store.

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::events::NetworkEvent;
use super::names::NodeId;
use crate::runtime::HubMsg;

/// The channel every node publishes on and listens to.
const CHANNEL: &str = "palaver:events";

/// An event with the node it comes from (a node ignores its own).
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    node: NodeId,
    event: NetworkEvent,
}

/// This node's side of the channel.
pub struct RedisEvents {
    redis: ConnectionManager,
    node: NodeId,
    listener: tokio::task::JoinHandle<()>,
}

impl RedisEvents {
    /// Publishes through `redis` and listens on a subscription of its own (from `client`),
    /// giving the hub what other nodes publish; the subscription is renewed after a drop.
    pub fn start(
        client: redis::Client,
        redis: ConnectionManager,
        node: NodeId,
        hub: mpsc::WeakSender<HubMsg>,
    ) -> Self {
        let listener = tokio::spawn(listen(client, node, hub));
        RedisEvents {
            redis,
            node,
            listener,
        }
    }

    /// Tells the other nodes about a change made here.
    pub fn publish(&self, event: &NetworkEvent) {
        let envelope = Envelope {
            node: self.node,
            event: event.clone(),
        };
        let Ok(text) = serde_json::to_string(&envelope) else {
            return;
        };
        let mut redis = self.redis.clone();
        tokio::spawn(async move {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(text)
                .query_async(&mut redis)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not publish a change to the other nodes");
            }
        });
    }
}

impl Drop for RedisEvents {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

async fn listen(client: redis::Client, node: NodeId, hub: mpsc::WeakSender<HubMsg>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(e) = pubsub.subscribe(CHANNEL).await {
                    tracing::warn!(error = %e, "could not subscribe to the other nodes' changes");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else {
                            continue;
                        };
                        let Ok(envelope) = serde_json::from_str::<Envelope>(&text) else {
                            tracing::warn!("an unreadable change from another node was ignored");
                            continue;
                        };
                        if envelope.node == node {
                            continue;
                        }
                        let Some(hub) = hub.upgrade() else {
                            return;
                        };
                        if hub.send(HubMsg::Network(envelope.event)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Redis is away; retrying the subscription"),
        }
        if hub.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
