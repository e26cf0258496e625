//! What the server counts, for `/metrics` (Prometheus text format, via `prometheus-client`):
//! connections by protocol and transport, joins, messages stored and delivered, store batch
//! sizes and commit latency, slow consumers, refusals by error code, and the depths of the hub's
//! and the store's queues. Counting is an atomic add where it happens; deliveries, the one
//! count on the fan-out path, are summed per hub message and added once.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    /// `native` or `irc`.
    pub protocol: &'static str,
    /// `tcp`, `tls` or `websocket`.
    pub transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: &'static str,
}

/// The server's counters, shared by the listeners, the hub's task and the store writer.
pub struct Metrics {
    registry: Registry,
    pub connections: Family<ConnectionLabels, Gauge>,
    pub joins: Counter,
    pub messages_stored: Counter,
    pub deliveries: Counter,
    pub store_batch_size: Histogram,
    pub store_commit_seconds: Histogram,
    pub slow_consumers: Counter,
    /// Gaps in a room's seqs this cluster node filled from the store.
    pub gap_fills: Counter,
    /// Files taken and served over HTTP.
    pub uploads: Counter,
    pub downloads: Counter,
    pub refusals: Family<CodeLabels, Counter>,
    pub hub_queue: Gauge<i64, AtomicI64>,
    pub store_queue: Gauge<i64, AtomicI64>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("palaver");
        let m = Metrics {
            connections: Family::default(),
            joins: Counter::default(),
            messages_stored: Counter::default(),
            deliveries: Counter::default(),
            store_batch_size: Histogram::new(exponential_buckets(1.0, 4.0, 7)),
            store_commit_seconds: Histogram::new(exponential_buckets(0.000_1, 4.0, 10)),
            slow_consumers: Counter::default(),
            gap_fills: Counter::default(),
            uploads: Counter::default(),
            downloads: Counter::default(),
            refusals: Family::default(),
            hub_queue: Gauge::default(),
            store_queue: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open connections, by protocol and transport",
            m.connections.clone(),
        );
        registry.register("joins", "Sessions that joined", m.joins.clone());
        registry.register(
            "messages_stored",
            "Messages committed to the store",
            m.messages_stored.clone(),
        );
        registry.register(
            "deliveries",
            "Frames queued for connections",
            m.deliveries.clone(),
        );
        registry.register(
            "store_batch_size",
            "Messages per store transaction",
            m.store_batch_size.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time to commit one store transaction",
            m.store_commit_seconds.clone(),
        );
        registry.register(
            "slow_consumers",
            "Connections dropped because they did not read fast enough",
            m.slow_consumers.clone(),
        );
        registry.register(
            "cluster_gap_fills",
            "Reads of a room's messages that another node's message showed missing here",
            m.gap_fills.clone(),
        );
        registry.register("uploads", "Files uploaded", m.uploads.clone());
        registry.register("downloads", "Files downloaded", m.downloads.clone());
        registry.register(
            "refusals",
            "Requests refused, by error code",
            m.refusals.clone(),
        );
        registry.register(
            "hub_queue_depth",
            "Requests waiting for the hub",
            m.hub_queue.clone(),
        );
        registry.register(
            "store_queue_depth",
            "Writes waiting for the store writer",
            m.store_queue.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// A refusal with this error code.
    pub fn refused(&self, code: palaver_proto::ErrorCode) {
        self.refusals
            .get_or_create(&CodeLabels {
                code: code.as_str(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// Counts a connection as open for as long as it lives.
pub struct OpenConnection {
    gauge: Gauge,
}

impl OpenConnection {
    pub fn new(metrics: &Metrics, labels: ConnectionLabels) -> Self {
        let gauge = metrics.connections.get_or_create(&labels).clone();
        gauge.inc();
        OpenConnection { gauge }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
