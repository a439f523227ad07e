//! What the session actors count through the `metrics` facade, read back with a debugging
//! recorder: sessions created, live and ended, followers, and the fan-out of events, including
//! the events dropped for a follower that stopped reading.
//!
//! One test in its own binary: the recorder is process-wide.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use construct_actors::session_metrics::{
    EVENTS_DELIVERED, EVENTS_DROPPED, EVENTS_PUBLISHED, SESSIONS_CREATED, SESSIONS_ENDED,
    SESSIONS_LIVE, SUBSCRIBERS,
};
use construct_actors::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

mod common;

const WAIT: Duration = Duration::from_secs(10);

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 4,
    create_per_minute: 100,
    session: SessionLimits {
        subscriber_queue: 1,
        ..common::SESSION_LIMITS
    },
};

/// A recorder that keeps every value where a test can read it without disturbing it.
#[derive(Clone)]
struct Values(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for Values {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

/// The value of metric `name` with `labels`, counters and gauges alike; 0 when never recorded.
fn value(values: &Values, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matches = |key: &Key| {
        key.name() == name
            && key.labels().count() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
    };
    if let Some((_, counter)) = values
        .0
        .get_counter_handles()
        .into_iter()
        .find(|(k, _)| matches(k))
    {
        #[allow(clippy::cast_precision_loss)]
        return counter.load(Ordering::SeqCst) as f64;
    }
    values
        .0
        .get_gauge_handles()
        .into_iter()
        .find(|(k, _)| matches(k))
        .map_or(0.0, |(_, gauge)| {
            f64::from_bits(gauge.load(Ordering::SeqCst))
        })
}

/// Waits until metric `name` reads `expected`.
async fn eventually(values: &Values, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + WAIT;
    while value(values, name, labels) != expected {
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} is {}, never {expected}",
            value(values, name, labels)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn event(progress: u64) -> SerializedEvent {
    ProgressEvent {
        token: ProgressToken::Text("t".into()),
        progress,
        total: None,
        message: None,
        tool: None,
        timestamp: Utc::now(),
    }
    .serialize()
}

#[actix_rt::test]
async fn sessions_followers_and_fan_out_are_counted() {
    let values = Values(Arc::new(Registry::atomic()));
    metrics::set_global_recorder(values.clone()).expect("the only recorder of this binary");
    session_metrics::describe();
    assert_eq!(value(&values, SESSIONS_LIVE, &[]), 0.0);

    let registry = SessionRegistry::new(LIMITS).start();
    let own = registry
        .send(Create {
            cwd: std::env::temp_dir().into(),
            label: None,
            by: Creator::Daemon,
            home: None,
            unused_timeout: None,
        })
        .await
        .unwrap()
        .unwrap();
    let created = registry
        .send(Create {
            cwd: std::env::temp_dir().into(),
            label: None,
            by: Creator::Client(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            home: None,
            unused_timeout: None,
        })
        .await
        .unwrap()
        .unwrap();
    // The daemon's own session is neither created by a client nor a client's live session.
    assert_eq!(value(&values, SESSIONS_CREATED, &[]), 1.0);
    assert_eq!(value(&values, SESSIONS_LIVE, &[]), 1.0);

    // One follower that keeps up, one that never reads (its queue holds one event).
    let mut reader = created.session.send(Subscribe).await.unwrap().unwrap();
    let stalled = created.session.send(Subscribe).await.unwrap().unwrap();
    let _watcher = own.session.send(Subscribe).await.unwrap().unwrap();
    assert_eq!(value(&values, SUBSCRIBERS, &[]), 3.0);
    for progress in 1..=3 {
        created
            .session
            .send(Publish(event(progress)))
            .await
            .unwrap();
        assert!(matches!(reader.recv().await, Some(StreamItem::Event(_))));
    }
    assert_eq!(value(&values, EVENTS_PUBLISHED, &[]), 3.0);
    // Three to the reader, the first to the stalled follower, the other two dropped for it.
    assert_eq!(value(&values, EVENTS_DELIVERED, &[]), 4.0);
    assert_eq!(value(&values, EVENTS_DROPPED, &[]), 2.0);

    drop(stalled);
    eventually(&values, SUBSCRIBERS, &[], 2.0).await;

    created.session.send(Stop).await.unwrap().unwrap();
    let closed = [("reason", "closed")];
    assert_eq!(value(&values, SESSIONS_ENDED, &closed), 1.0);
    assert_eq!(
        value(&values, SESSIONS_ENDED, &[("reason", "expired")]),
        0.0
    );
    // Its follower left with it; the daemon's session keeps its own.
    assert_eq!(value(&values, SUBSCRIBERS, &[]), 1.0);
    eventually(&values, SESSIONS_LIVE, &[], 0.0).await;
    // A second Stop on the way to a stopping session is not a second end.
    let _ = created.session.send(Stop).await;
    assert_eq!(value(&values, SESSIONS_ENDED, &closed), 1.0);
}
