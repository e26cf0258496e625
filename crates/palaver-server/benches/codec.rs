//! Codec micro-benchmarks: lines split, frames parsed and frames encoded per second.
//!
//! `cargo bench -p palaver-server --bench codec`

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use palaver_proto::{encode_frame, parse_request, LineDecoder, PublicMessage, ServerFrame};

fn codec(c: &mut Criterion) {
    let line = br#"{"type":"message","room":"general","content":"The quick brown fox jumps over the lazy dog","ref":42}"#;
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_request", |b| {
        b.iter(|| parse_request(std::hint::black_box(line)).unwrap())
    });

    let frame = ServerFrame::Message(PublicMessage {
        state: Default::default(),
        id: 123_456,
        seq: 42,
        room: "general".into(),
        username: "alice".into(),
        content: "The quick brown fox jumps over the lazy dog".into(),
        timestamp: "2026-11-21T14:30:25.123Z".into(),
    });
    group.bench_function("encode_message", |b| {
        b.iter(|| encode_frame(std::hint::black_box(&frame)))
    });

    let mut stream = Vec::new();
    for _ in 0..1000 {
        stream.extend_from_slice(line);
        stream.push(b'\n');
    }
    group.throughput(Throughput::Elements(1000));
    group.bench_function("split_1000_lines", |b| {
        b.iter(|| {
            let mut decoder = LineDecoder::new(16 * 1024);
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Some(line) = decoder.decode(&mut buf) {
                n += line.unwrap().len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
