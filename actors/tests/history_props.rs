//! Property: whatever the interleaving of publishes, reads, disconnects and resumes (each resume
//! naming, as `Last-Event-ID`, the last event id its follower saw), every follower of a session
//! sees every event at most once and in order, and accounts for every event it does not see with
//! an explicit `Lagged` count that is exactly right: after a lag notice of `n`, the next event it
//! gets is the `n`-th after the last one it got. When the session ends, each follower has been
//! told of every event, received or counted, before `SessionEnded`, and its stream then closes.
//!
//! This drives the real `SessionActor` by its messages (`Subscribe`, `SubscribeAfter`, `Publish`,
//! `Stop`), with tiny queues and histories so that both lag paths, a follower's queue overflowing
//! and a resume from beyond the history, are taken in most cases (the test checks that they were).
//!
//! `PROPTEST_CASES=N` changes the number of cases (default [`CASES`]).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use construct_actors::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio::sync::mpsc::Receiver;
use tokio::sync::mpsc::error::TryRecvError;

/// Cases run by default: a few seconds in a debug build.
const CASES: u32 = 256;

/// How many followers each case has.
const FOLLOWERS: usize = 3;

/// Longest the final drain waits for one item before the case fails (instead of hanging).
const WAIT: Duration = Duration::from_secs(10);

/// Lag notices seen over all cases, by cause, to show that the lag paths were exercised.
static OVERFLOW_LAGS: AtomicU64 = AtomicU64::new(0);
static HISTORY_LAGS: AtomicU64 = AtomicU64::new(0);
static RESUMES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
enum Op {
    /// Publish this many events.
    Publish(u8),
    /// Follower reads at most this many items that are already there (never waits).
    Read(usize, u8),
    /// Follower's client goes away (its receiver is dropped).
    Disconnect(usize),
    /// Follower, if gone, comes back with `Last-Event-ID` = the last event id it saw (a fresh
    /// subscription when it never saw one).
    Resume(usize),
    /// Let the session actor run (round trip), so that pending lag notices get delivered.
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    let follower = 0..FOLLOWERS;
    prop_oneof![
        4 => (1u8..=8).prop_map(Op::Publish),
        4 => (follower.clone(), 1u8..=6).prop_map(|(f, n)| Op::Read(f, n)),
        1 => follower.clone().prop_map(Op::Disconnect),
        2 => follower.prop_map(Op::Resume),
        1 => Just(Op::Settle),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Sizes {
    subscriber_queue: usize,
    subscriber_queue_bytes: usize,
    history: usize,
    history_bytes: usize,
}

/// Counts and byte budgets: tiny ones, so that either bound is the one that drops (events are
/// about 100 to 400 bytes, see [`event`]).
fn sizes() -> impl Strategy<Value = Sizes> {
    (1usize..=4, 100usize..=1600, 1usize..=6, 100usize..=2400).prop_map(
        |(subscriber_queue, subscriber_queue_bytes, history, history_bytes)| Sizes {
            subscriber_queue,
            subscriber_queue_bytes,
            history,
            history_bytes,
        },
    )
}

/// One follower as the test sees it: its open connection and what it may receive next.
struct Follower {
    receiver: Option<Receiver<StreamItem>>,
    /// Id of the next event the open connection must account for (deliver or count).
    cursor: u64,
    /// The last event id this follower ever received, over all its connections.
    last_seen: Option<u64>,
    /// Whether the open connection came from a resume and has delivered nothing yet.
    resumed_fresh: bool,
}

impl Follower {
    /// Checks `item` against what the follower is owed, and advances. `published` is how many
    /// events the session has published so far.
    fn accept(&mut self, item: StreamItem, published: u64) -> Result<(), TestCaseError> {
        let fresh = std::mem::take(&mut self.resumed_fresh);
        match item {
            StreamItem::Event(event) => {
                prop_assert_eq!(
                    event.id,
                    self.cursor,
                    "an event out of order, repeated, or after a wrong lag count"
                );
                prop_assert!(self.last_seen.is_none_or(|seen| event.id > seen));
                prop_assert!(event.id <= published, "an event from the future");
                let data: serde_json::Value = serde_json::from_str(event.data.json()).unwrap();
                prop_assert_eq!(&data["progress"], event.id, "an id on another event's data");
                self.cursor += 1;
                self.last_seen = Some(event.id);
            }
            StreamItem::Lagged { missed } => {
                prop_assert!(missed > 0, "a lag notice of zero");
                self.cursor += missed;
                prop_assert!(
                    self.cursor <= published + 1,
                    "a lag notice counting {} events that were never published",
                    missed
                );
                let cause = if fresh { &HISTORY_LAGS } else { &OVERFLOW_LAGS };
                cause.fetch_add(1, Ordering::Relaxed);
            }
            StreamItem::SessionEnded(reason) => {
                prop_assert!(false, "the session ended early ({reason:?})");
            }
        }
        Ok(())
    }
}

/// Event `progress`, of a size that varies from one to the next, so that byte budgets drop a
/// varying number of events.
fn event(progress: u64) -> SerializedEvent {
    ProgressEvent {
        token: ProgressToken::Text("prop".into()),
        progress,
        total: None,
        message: Some("m".repeat(usize::try_from(progress % 7).unwrap() * 50)),
        tool: None,
        timestamp: Utc::now(),
    }
    .serialize()
}

async fn run_case(sizes: Sizes, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let registry = SessionRegistry::new(RegistryLimits {
        max_sessions: 4,
        create_per_minute: 1000,
        session: SessionLimits {
            subscriber_queue: sizes.subscriber_queue,
            subscriber_queue_bytes: sizes.subscriber_queue_bytes,
            max_subscribers: 64,
            max_calls: 1,
            history: sizes.history,
            history_bytes: sizes.history_bytes,
            idle_timeout: None,
            unused_timeout: None,
        },
    })
    .start();
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
    let session = created.session.clone();
    let settle = || async {
        session
            .send(Authenticate {
                token: created.token.clone(),
            })
            .await
            .unwrap()
            .unwrap();
        tokio::task::yield_now().await;
    };

    let mut published = 0u64;
    let mut followers = Vec::new();
    for _ in 0..FOLLOWERS {
        followers.push(Follower {
            receiver: Some(session.send(Subscribe).await.unwrap().unwrap()),
            cursor: 1,
            last_seen: None,
            resumed_fresh: false,
        });
    }

    for op in ops {
        match op {
            Op::Publish(count) => {
                for _ in 0..count {
                    published += 1;
                    session.send(Publish(event(published))).await.unwrap();
                }
            }
            Op::Read(f, count) => {
                let follower = &mut followers[f];
                for _ in 0..count {
                    let Some(receiver) = follower.receiver.as_mut() else {
                        break;
                    };
                    match receiver.try_recv() {
                        Ok(item) => follower.accept(item, published)?,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            prop_assert!(
                                false,
                                "a follower's stream closed while the session lives"
                            );
                        }
                    }
                }
            }
            Op::Disconnect(f) => followers[f].receiver = None,
            Op::Resume(f) => {
                let follower = &mut followers[f];
                if follower.receiver.is_none() {
                    let receiver = match follower.last_seen {
                        Some(seen) => {
                            RESUMES.fetch_add(1, Ordering::Relaxed);
                            follower.cursor = seen + 1;
                            follower.resumed_fresh = true;
                            session.send(SubscribeAfter(seen)).await
                        }
                        None => {
                            follower.cursor = published + 1;
                            session.send(Subscribe).await
                        }
                    };
                    follower.receiver = Some(receiver.unwrap().unwrap());
                }
            }
            Op::Settle => settle().await,
        }
    }

    // Bring every follower back, end the session, and read each stream to its close.
    for follower in &mut followers {
        if follower.receiver.is_none() {
            follower.cursor = match follower.last_seen {
                Some(seen) => {
                    RESUMES.fetch_add(1, Ordering::Relaxed);
                    follower.resumed_fresh = true;
                    follower.receiver =
                        Some(session.send(SubscribeAfter(seen)).await.unwrap().unwrap());
                    seen + 1
                }
                None => {
                    follower.receiver = Some(session.send(Subscribe).await.unwrap().unwrap());
                    published + 1
                }
            };
        }
    }
    session.send(Stop).await.unwrap().unwrap();
    for (index, follower) in followers.iter_mut().enumerate() {
        let mut receiver = follower.receiver.take().unwrap();
        loop {
            let item = tokio::time::timeout(WAIT, receiver.recv())
                .await
                .map_err(|_| {
                    TestCaseError::fail(format!("follower {index}: no item within {WAIT:?}"))
                })?;
            match item {
                Some(StreamItem::SessionEnded(reason)) => {
                    prop_assert_eq!(reason, EndReason::Closed);
                    prop_assert_eq!(
                        follower.cursor,
                        published + 1,
                        "follower {} was told of events up to {} of {} before the end",
                        index,
                        follower.cursor - 1,
                        published
                    );
                    let after = tokio::time::timeout(WAIT, receiver.recv()).await;
                    prop_assert!(
                        matches!(after, Ok(None)),
                        "the stream goes on after SessionEnded: {:?}",
                        after
                    );
                    break;
                }
                Some(item) => follower.accept(item, published)?,
                None => prop_assert!(false, "follower {index}: closed without SessionEnded"),
            }
        }
    }
    Ok(())
}

#[test]
fn every_event_is_seen_once_in_order_or_counted_whatever_the_interleaving() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (sizes(), proptest::collection::vec(op(), 1..80));
    let result = runner.run(&strategy, |(sizes, ops)| {
        actix_rt::System::new().block_on(run_case(sizes, ops))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (overflows, replays, resumes) = (
        OVERFLOW_LAGS.load(Ordering::Relaxed),
        HISTORY_LAGS.load(Ordering::Relaxed),
        RESUMES.load(Ordering::Relaxed),
    );
    eprintln!(
        "{cases} cases: {resumes} resumes, {overflows} overflow lag notices, {replays} lag notices on resume"
    );
    assert!(overflows > 0, "no case overflowed a follower's queue");
    assert!(replays > 0, "no case resumed from beyond the history");
}
