//! The cluster's messages between nodes, through Redis pub/sub: one ordered publisher and one
//! subscription per node (sharded channels on a Redis Cluster: see `redis_link.rs`).
//!
//! Channels:
//! - `palaver:events`: changes to shared facts ([`NetworkEvent`]: bans, topics, kicks, ...);
//! - `palaver:presence`: who comes, moves and goes ([`Presence`]);
//! - `palaver:room:<folded name>`: a room's committed messages ([`RoomPost`]), listened to only
//!   by the nodes with members there (the hub follows and unfollows rooms);
//! - `palaver:node:<number>`: private messages for that node's users ([`DirectPost`]).
//!
//! The publisher sends in the order the hub asked, in pipelines of whatever is waiting. What
//! Redis could not take is tried again for up to [`RETRY_FOR`] (a private message also when no
//! node was listening for it, as while its node reconnects); after that it is dropped, which
//! loses nothing: every message is in the database, and rooms are filled from there. The
//! subscription is renewed after a drop; every time it is (re)made the hub hears
//! [`HubMsg::BusConnected`] and fills what it may have missed, and this node says
//! [`Presence::Hello`] to get a fresh picture of the others.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::redis_link::{RedisConn, RedisTarget};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::events::NetworkEvent;
use super::fanout::{NodeNews, Post, RelayTo, RoomNews};
use super::names::NodeId;
use super::presence::{Presence, ALIVE_EVERY};
use crate::runtime::HubMsg;

const EVENTS: &str = "palaver:events";
const PRESENCE: &str = "palaver:presence";
/// How long something Redis did not take is tried again.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// The most posts kept for another try (the oldest go first).
const RETRY_MAX: usize = 100_000;
/// The most posts in one pipeline.
const BATCH_MAX: usize = 512;

fn node_channel(node: NodeId) -> String {
    format!("palaver:node:{node}")
}

fn room_channel(room_key: &str) -> String {
    format!("palaver:room:{room_key}")
}

/// An event with the node it comes from (a node ignores its own).
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    node: NodeId,
    event: NetworkEvent,
}

/// What the hub asks of the subscription.
enum Follow {
    Room { room_key: String, generation: u64 },
    Unroom(String),
}

/// This node's side of the bus.
pub struct RedisBus {
    node: NodeId,
    /// `None` once finished (see [`RedisBus::finish`]).
    posts: Option<mpsc::UnboundedSender<Post>>,
    follows: mpsc::UnboundedSender<Follow>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    /// The subscription and the heartbeat.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RedisBus {
    /// Publishes through `redis` and listens on a subscription of its own (from `client`),
    /// giving the hub what the other nodes publish.
    /// `connected` is told each time the subscription is (re)made.
    pub fn start(
        target: RedisTarget,
        redis: RedisConn,
        node: NodeId,
        hub: mpsc::WeakSender<HubMsg>,
        connected: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (posts, posts_rx) = mpsc::unbounded_channel();
        let (follows, follows_rx) = mpsc::unbounded_channel();
        let publisher = Some(tokio::spawn(publish(
            redis,
            target.publish_command(),
            target.is_cluster(),
            node,
            posts_rx,
        )));
        let listening = match target {
            RedisTarget::Single(client) => tokio::spawn(listen(
                client,
                node,
                hub.clone(),
                follows_rx,
                posts.clone(),
                connected,
            )),
            RedisTarget::Cluster(urls) => tokio::spawn(listen_sharded(
                urls,
                node,
                hub.clone(),
                follows_rx,
                posts.clone(),
                connected,
            )),
        };
        let tasks = vec![listening, tokio::spawn(alive(node, hub, posts.clone()))];
        RedisBus {
            node,
            posts: Some(posts),
            follows,
            publisher,
            tasks,
        }
    }

    /// Sends a post to the other nodes, after those sent before it.
    pub fn send(&self, post: Post) {
        if let Some(posts) = &self.posts {
            let _ = posts.send(post);
        }
    }

    /// Stops listening, and sends what is still queued (within `limit`): a node shutting down
    /// tells the others its users have left before it goes.
    pub async fn finish(&mut self, limit: std::time::Duration) {
        for task in &self.tasks {
            task.abort();
        }
        self.posts = None;
        if let Some(publisher) = self.publisher.take() {
            if tokio::time::timeout(limit, publisher).await.is_err() {
                tracing::warn!("Redis did not take the last posts to the other nodes in time");
            }
        }
    }

    /// Tells the other nodes about a change made here.
    pub fn publish(&self, event: &NetworkEvent) {
        self.send(Post::Event(event.clone()));
    }

    /// Starts listening to a room; the hub hears [`HubMsg::RoomFollowed`] once it does.
    pub fn follow(&self, room_key: &str, generation: u64) {
        let _ = self.follows.send(Follow::Room {
            room_key: room_key.to_string(),
            generation,
        });
    }

    pub fn unfollow(&self, room_key: &str) {
        let _ = self.follows.send(Follow::Unroom(room_key.to_string()));
    }

    pub fn node(&self) -> NodeId {
        self.node
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in self.tasks.iter().chain(&self.publisher) {
            task.abort();
        }
    }
}

/// A post ready to go: its channel, its text, whether a listener must have had it.
struct Outgoing {
    channel: String,
    text: String,
    needs_listener: bool,
    /// A room's message: worth another try only briefly (the room's gap check finds it).
    room: bool,
    since: Instant,
}

fn prepare(post: Post, node: NodeId) -> Option<Outgoing> {
    let (channel, text, needs_listener, room) = match post {
        Post::Event(event) => {
            let envelope = Envelope { node, event };
            (
                EVENTS.to_string(),
                serde_json::to_string(&envelope),
                false,
                false,
            )
        }
        Post::Presence(presence) => (
            PRESENCE.to_string(),
            serde_json::to_string(&presence),
            false,
            false,
        ),
        Post::PresenceTo { node, presence } => (
            node_channel(node),
            serde_json::to_string(&NodeNews::Presence(presence)),
            false,
            false,
        ),
        Post::Room(post) => (
            room_channel(&post.room_key),
            serde_json::to_string(&RoomNews::Message(post)),
            false,
            true,
        ),
        Post::Direct { node, post } => (
            node_channel(node),
            serde_json::to_string(&NodeNews::Direct(post)),
            true,
            false,
        ),
        // Not stored: worth another try only briefly, like a room's message.
        Post::Relay(relay) => {
            let channel = match &relay.to {
                RelayTo::Room(room_key) => room_channel(room_key),
                RelayTo::Connection(holder) => node_channel(holder.node),
            };
            let text = match relay.to {
                RelayTo::Room(_) => serde_json::to_string(&RoomNews::Relay(relay)),
                RelayTo::Connection(_) => serde_json::to_string(&NodeNews::Relay(relay)),
            };
            (channel, text, false, true)
        }
    };
    Some(Outgoing {
        channel,
        text: text.ok()?,
        needs_listener,
        room,
        since: Instant::now(),
    })
}

/// Publishes posts in order, batched (one pipeline on one server; on a Redis Cluster, whose
/// pipelines may not cross shards, each post on its own, all sent at once); keeps what Redis
/// did not take for another try.
async fn publish(
    mut redis: RedisConn,
    command: &'static str,
    sharded: bool,
    node: NodeId,
    mut posts: mpsc::UnboundedReceiver<Post>,
) {
    let mut retry: VecDeque<Outgoing> = VecDeque::new();
    loop {
        let first = if retry.is_empty() {
            match posts.recv().await {
                Some(post) => Some(post),
                None => return,
            }
        } else {
            tokio::select! {
                post = posts.recv() => match post {
                    Some(post) => Some(post),
                    None => return,
                },
                _ = tokio::time::sleep(Duration::from_millis(250)) => None,
            }
        };
        let mut batch: Vec<Outgoing> = retry.drain(..).collect();
        let mut next = first;
        while let Some(post) = next {
            if let Some(out) = prepare(post, node) {
                batch.push(out);
            }
            next = if batch.len() < BATCH_MAX {
                posts.try_recv().ok()
            } else {
                None
            };
        }
        if batch.is_empty() {
            continue;
        }
        // What each post got: how many listened, or `None` when Redis did not take it.
        let answers: Vec<Option<i64>> = if sharded {
            publish_sharded(&redis, command, &batch).await
        } else {
            let mut pipe = redis::pipe();
            for out in &batch {
                pipe.cmd(command).arg(&out.channel).arg(&out.text);
            }
            match pipe.query_async::<Vec<i64>>(&mut redis).await {
                Ok(listeners) => listeners.into_iter().map(Some).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, posts = batch.len(), "Redis did not take posts to the other nodes; trying again");
                    vec![None; batch.len()]
                }
            }
        };
        let again: Vec<Outgoing> = batch
            .into_iter()
            .zip(answers)
            .filter(|(out, answer)| match answer {
                None => true,
                Some(listeners) => out.needs_listener && *listeners == 0,
            })
            .map(|(out, _)| out)
            .collect();
        let now = Instant::now();
        for out in again {
            let limit = if out.room {
                Duration::from_secs(5)
            } else {
                RETRY_FOR
            };
            if now.duration_since(out.since) < limit {
                retry.push_back(out);
            }
        }
        while retry.len() > RETRY_MAX {
            retry.pop_front();
        }
        if !retry.is_empty() {
            // Redis is away or a listener is: give it a moment.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Publishes on a Redis Cluster, whose pipelines may not cross shards: one pipeline per channel
/// (its posts in order), the channels at once.
async fn publish_sharded(
    redis: &RedisConn,
    command: &'static str,
    batch: &[Outgoing],
) -> Vec<Option<i64>> {
    let mut channels: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, out) in batch.iter().enumerate() {
        match channels.iter_mut().find(|(c, _)| *c == out.channel) {
            Some((_, posts)) => posts.push(i),
            None => channels.push((&out.channel, vec![i])),
        }
    }
    let sends = channels.into_iter().map(|(channel, posts)| {
        let mut redis = redis.clone();
        let mut pipe = redis::pipe();
        for &i in &posts {
            pipe.cmd(command).arg(channel).arg(&batch[i].text);
        }
        async move {
            match pipe.query_async::<Vec<i64>>(&mut redis).await {
                Ok(listeners) => posts.into_iter().zip(listeners.into_iter().map(Some)).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, %channel, "the Redis Cluster did not take posts; trying again");
                    posts.into_iter().map(|i| (i, None)).collect::<Vec<_>>()
                }
            }
        }
    });
    let mut answers = vec![None; batch.len()];
    for (i, answer) in futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
    {
        answers[i] = answer;
    }
    answers
}

/// Says this node is alive, and lets the hub look for nodes that are not.
async fn alive(node: NodeId, hub: mpsc::WeakSender<HubMsg>, posts: mpsc::UnboundedSender<Post>) {
    let mut every = tokio::time::interval(ALIVE_EVERY);
    loop {
        every.tick().await;
        if posts
            .send(Post::Presence(Presence::Alive { node }))
            .is_err()
        {
            return;
        }
        let Some(hub) = hub.upgrade() else {
            return;
        };
        if hub.send(HubMsg::ClusterTick).await.is_err() {
            return;
        }
    }
}

/// Listens to the other nodes; renews the subscription (and every room's) after a drop.
async fn listen(
    client: redis::Client,
    node: NodeId,
    hub: mpsc::WeakSender<HubMsg>,
    mut follows: mpsc::UnboundedReceiver<Follow>,
    posts: mpsc::UnboundedSender<Post>,
    connected: Arc<tokio::sync::Notify>,
) {
    // Rooms followed, and those the hub still waits to hear are followed (with generation).
    let mut rooms: HashSet<String> = HashSet::new();
    let mut unconfirmed: Vec<(String, u64)> = Vec::new();
    let mut said_hello = false;
    loop {
        match client.get_async_pubsub().await {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                let mut channels =
                    vec![EVENTS.to_string(), PRESENCE.to_string(), node_channel(node)];
                channels.extend(rooms.iter().map(|k| room_channel(k)));
                match sink.subscribe(&channels).await {
                    Err(e) => tracing::warn!(error = %e, "could not subscribe to the other nodes"),
                    Ok(()) => {
                        let Some(hub_tx) = hub.upgrade() else { return };
                        for (room_key, generation) in unconfirmed.drain(..) {
                            let followed = HubMsg::RoomFollowed {
                                room_key,
                                generation,
                            };
                            if hub_tx.send(followed).await.is_err() {
                                return;
                            }
                        }
                        if hub_tx.send(HubMsg::BusConnected).await.is_err() {
                            return;
                        }
                        drop(hub_tx);
                        connected.notify_one();
                        // The first time, ask who is online; after a drop, the hub's snapshot
                        // (every node sends its own) is enough.
                        if !said_hello {
                            said_hello = true;
                            let _ = posts.send(Post::Presence(Presence::Hello { node }));
                        }
                        loop {
                            tokio::select! {
                                message = stream.next() => {
                                    let Some(message) = message else { break };
                                    let channel = message.get_channel_name().to_string();
                                    let Ok(text) = message.get_payload::<String>() else { continue };
                                    let Some(msg) = dispatch(&channel, &text, node) else { continue };
                                    let Some(hub) = hub.upgrade() else { return };
                                    if hub.send(msg).await.is_err() {
                                        return;
                                    }
                                }
                                follow = follows.recv() => match follow {
                                    None => return,
                                    Some(Follow::Room { room_key, generation }) => {
                                        rooms.insert(room_key.clone());
                                        if sink.subscribe(room_channel(&room_key)).await.is_err() {
                                            unconfirmed.push((room_key, generation));
                                            break;
                                        }
                                        let Some(hub) = hub.upgrade() else { return };
                                        let followed = HubMsg::RoomFollowed { room_key, generation };
                                        if hub.send(followed).await.is_err() {
                                            return;
                                        }
                                    }
                                    Some(Follow::Unroom(room_key)) => {
                                        rooms.remove(&room_key);
                                        if sink.unsubscribe(room_channel(&room_key)).await.is_err() {
                                            break;
                                        }
                                    }
                                },
                            }
                        }
                        tracing::warn!("lost the subscription to the other nodes; renewing it");
                        if let Some(hub) = hub.upgrade() {
                            let _ = hub.send(HubMsg::BusLost).await;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Redis is away; retrying the subscription"),
        }
        if hub.upgrade().is_none() {
            return;
        }
        // Follows asked for meanwhile are made with the renewed subscription.
        while let Ok(follow) = follows.try_recv() {
            match follow {
                Follow::Room {
                    room_key,
                    generation,
                } => {
                    rooms.insert(room_key.clone());
                    unconfirmed.push((room_key, generation));
                }
                Follow::Unroom(room_key) => {
                    rooms.remove(&room_key);
                    unconfirmed.retain(|(k, _)| *k != room_key);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a message on one of the channels means for the hub (nothing, for this node's own).
fn dispatch(channel: &str, text: &str, node: NodeId) -> Option<HubMsg> {
    let parsed = if channel == EVENTS {
        serde_json::from_str::<Envelope>(text)
            .map(|e| (e.node != node).then_some(HubMsg::Network(e.event)))
    } else if channel == PRESENCE {
        serde_json::from_str::<Presence>(text)
            .map(|p| (p.node() != node).then_some(HubMsg::Presence(p)))
    } else if channel.starts_with("palaver:room:") {
        serde_json::from_str::<RoomNews>(text).map(|news| match news {
            RoomNews::Message(p) => (p.node != node).then(|| HubMsg::RemotePost(Box::new(p))),
            RoomNews::Relay(r) => (r.node != node).then(|| HubMsg::Relayed(Box::new(r))),
        })
    } else {
        serde_json::from_str::<NodeNews>(text).map(|news| match news {
            NodeNews::Direct(p) => Some(HubMsg::RemoteDirect(Box::new(p))),
            NodeNews::Relay(r) => Some(HubMsg::Relayed(Box::new(r))),
            NodeNews::Presence(p) => (p.node() != node).then_some(HubMsg::Presence(p)),
        })
    };
    match parsed {
        Ok(msg) => msg,
        Err(e) => {
            tracing::warn!(%channel, error = %e, "an unreadable post from another node was ignored");
            None
        }
    }
}

/// Tells the hub the subscription stands (made, or made again): it fills what its rooms may
/// have missed and tells the others who is online here; the names are set again; the first
/// time, the other nodes are asked who is online there.
async fn subscribed(
    hub: &mpsc::WeakSender<HubMsg>,
    connected: &tokio::sync::Notify,
    posts: &mpsc::UnboundedSender<Post>,
    node: NodeId,
    first: bool,
) -> bool {
    let Some(hub) = hub.upgrade() else {
        return false;
    };
    if hub.send(HubMsg::BusConnected).await.is_err() {
        return false;
    }
    connected.notify_one();
    if first {
        let _ = posts.send(Post::Presence(Presence::Hello { node }));
    }
    true
}

/// Listens to the other nodes through a Redis Cluster's sharded channels. The connection
/// subscribes again by itself after a shard's connection dropped; the first confirmation after
/// a drop counts as a renewed subscription.
async fn listen_sharded(
    urls: Vec<String>,
    node: NodeId,
    hub: mpsc::WeakSender<HubMsg>,
    mut follows: mpsc::UnboundedReceiver<Follow>,
    posts: mpsc::UnboundedSender<Post>,
    connected: Arc<tokio::sync::Notify>,
) {
    use redis::PushKind;
    let (push_tx, mut pushes) = mpsc::unbounded_channel::<redis::PushInfo>();
    let client = match redis::cluster::ClusterClientBuilder::new(urls)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(push_tx)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen to the other nodes through the Redis Cluster");
            return;
        }
    };
    let mut connection = loop {
        match client.get_async_connection().await {
            Ok(connection) => break connection,
            Err(e) => tracing::warn!(error = %e, "the Redis Cluster is away; retrying"),
        }
        if hub.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // One by one: a sharded subscription is to channels of one slot.
    for channel in [EVENTS.to_string(), PRESENCE.to_string(), node_channel(node)] {
        while let Err(e) = connection.ssubscribe(&channel).await {
            tracing::warn!(error = %e, "could not subscribe to the other nodes; retrying");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    if !subscribed(&hub, &connected, &posts, node, true).await {
        return;
    }
    // Rooms whose subscription failed (the cluster was away), tried again every moment.
    let mut unconfirmed: Vec<(String, u64)> = Vec::new();
    let mut lost = false;
    let mut retry = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let Some(push) = push else { return };
                match push.kind {
                    PushKind::SMessage | PushKind::Message => {
                        let mut data = push.data.iter().map(|v| redis::from_redis_value::<String>(v).ok());
                        let (Some(Some(channel)), Some(Some(text))) = (data.next(), data.next()) else {
                            continue;
                        };
                        let Some(msg) = dispatch(&channel, &text, node) else { continue };
                        let Some(hub) = hub.upgrade() else { return };
                        if hub.send(msg).await.is_err() {
                            return;
                        }
                    }
                    PushKind::Disconnection => {
                        if !lost {
                            tracing::warn!("lost a shard of the subscription to the other nodes; it is renewed by itself");
                            let Some(hub) = hub.upgrade() else { return };
                            if hub.send(HubMsg::BusLost).await.is_err() {
                                return;
                            }
                        }
                        lost = true;
                    }
                    PushKind::SSubscribe if lost => {
                        lost = false;
                        if !subscribed(&hub, &connected, &posts, node, false).await {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            follow = follows.recv() => match follow {
                None => return,
                Some(Follow::Room { room_key, generation }) => unconfirmed.push((room_key, generation)),
                Some(Follow::Unroom(room_key)) => {
                    unconfirmed.retain(|(k, _)| *k != room_key);
                    if let Err(e) = connection.sunsubscribe(room_channel(&room_key)).await {
                        tracing::warn!(error = %e, room = %room_key, "could not stop listening to a room");
                    }
                }
            },
            _ = retry.tick(), if !unconfirmed.is_empty() => {}
        }
        // Subscribe to the rooms asked for (at once, or again after a failure).
        let waiting = std::mem::take(&mut unconfirmed);
        for (room_key, generation) in waiting {
            match connection.ssubscribe(room_channel(&room_key)).await {
                Ok(()) => {
                    let Some(hub) = hub.upgrade() else { return };
                    let followed = HubMsg::RoomFollowed {
                        room_key,
                        generation,
                    };
                    if hub.send(followed).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, room = %room_key, "could not listen to a room; retrying");
                    unconfirmed.push((room_key, generation));
                }
            }
        }
    }
}
