//! The session actors on their own, without HTTP: creation, authentication, fan-out, limits,
//! resuming, lag notices and the end of sessions.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use construct_actors::*;

mod common;

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 4,
    create_per_minute: 100,
    session: common::SESSION_LIMITS,
};

/// [`LIMITS`], with sessions that expire after `idle`.
fn expiring(idle: Duration) -> RegistryLimits {
    RegistryLimits {
        session: SessionLimits {
            idle_timeout: Some(idle),
            unused_timeout: None,
            ..LIMITS.session
        },
        ..LIMITS
    }
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long a test waits for something that should happen soon.
const WAIT: Duration = Duration::from_secs(10);

fn create_by(by: Creator) -> Create {
    Create {
        cwd: std::env::temp_dir().into(),
        label: Some("test".into()),
        by,
        home: None,
        unused_timeout: None,
    }
}

async fn create(registry: &Addr<SessionRegistry>) -> CreatedSession {
    registry
        .send(create_by(Creator::Client(CLIENT)))
        .await
        .unwrap()
        .unwrap()
}

async fn publish(created: &CreatedSession, progress: std::ops::RangeInclusive<u64>) {
    for progress in progress {
        created
            .session
            .send(Publish(event(progress)))
            .await
            .unwrap();
    }
}

async fn subscribe(created: &CreatedSession) -> tokio::sync::mpsc::Receiver<StreamItem> {
    created.session.send(Subscribe).await.unwrap().unwrap()
}

/// The id of a received item, which must be an event.
fn event_id(item: Option<StreamItem>) -> u64 {
    match item {
        Some(StreamItem::Event(event)) => event.id,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Waits until the registry no longer knows the session.
async fn wait_until_forgotten(registry: &Addr<SessionRegistry>, created: &CreatedSession) {
    let deadline = std::time::Instant::now() + WAIT;
    while registry.send(Lookup(created.id)).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never ended"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event(progress: u64) -> SerializedEvent {
    ProgressEvent {
        token: ProgressToken::Text("t".into()),
        progress,
        total: Some(10),
        message: None,
        tool: Some("sleep".into()),
        timestamp: Utc::now(),
    }
    .serialize()
}

async fn subscribers(created: &CreatedSession) -> usize {
    created
        .session
        .send(Authenticate {
            token: created.token.clone(),
        })
        .await
        .unwrap()
        .unwrap()
        .subscribers
}

#[actix_rt::test]
async fn a_created_session_is_found_and_accepts_only_its_token() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let found = registry.send(Lookup(created.id)).await.unwrap().unwrap();
    let info = found
        .send(Authenticate {
            token: created.token.clone(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.id, created.id);
    assert_eq!(info.label.as_deref(), Some("test"));
    let wrong = found
        .send(Authenticate {
            token: "0".repeat(64),
        })
        .await
        .unwrap();
    assert_eq!(wrong.unwrap_err(), AuthError::Unauthorized);
    assert!(
        registry
            .send(Lookup(uuid::Uuid::new_v4()))
            .await
            .unwrap()
            .is_none()
    );
}

#[actix_rt::test]
async fn every_subscriber_receives_every_event_in_order() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let mut first = subscribe(&created).await;
    let mut second = subscribe(&created).await;
    publish(&created, 1..=3).await;
    for receiver in [&mut first, &mut second] {
        for id in 1..=3 {
            let Some(StreamItem::Event(got)) = receiver.recv().await else {
                panic!("expected event {id}");
            };
            assert_eq!(got.id, id);
            assert!(got.data.json().contains(&format!("\"progress\":{id}")));
        }
    }
}

#[actix_rt::test]
async fn a_full_subscriber_loses_events_without_blocking_the_others() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let _stalled = subscribe(&created).await;
    let mut reader = subscribe(&created).await;
    for progress in 1..=100 {
        publish(&created, progress..=progress).await;
        assert_eq!(event_id(reader.recv().await), progress);
    }
    assert_eq!(subscribers(&created).await, 2);
}

#[actix_rt::test]
async fn a_dropped_receiver_is_removed_promptly() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let receiver = created.session.send(Subscribe).await.unwrap().unwrap();
    assert_eq!(subscribers(&created).await, 1);
    drop(receiver);
    for _ in 0..100 {
        if subscribers(&created).await == 0 {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the dropped subscriber was never removed");
}

#[actix_rt::test]
async fn limits_on_sessions_and_subscribers_are_enforced() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    for _ in 1..LIMITS.max_sessions {
        create(&registry).await;
    }
    let refused = registry
        .send(create_by(Creator::Client(CLIENT)))
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), CreateError::TooManySessions(4));
    let own = registry.send(create_by(Creator::Daemon)).await.unwrap();
    assert!(own.is_ok(), "the daemon's own sessions do not count");

    let mut held = Vec::new();
    for _ in 0..LIMITS.session.max_subscribers {
        held.push(created.session.send(Subscribe).await.unwrap().unwrap());
    }
    let refused = created.session.send(Subscribe).await.unwrap();
    assert_eq!(refused.unwrap_err(), SubscribeError::TooManySubscribers(3));
}

#[actix_rt::test]
async fn shutdown_ends_every_subscription_but_not_running_calls() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let mut receiver = created.session.send(Subscribe).await.unwrap().unwrap();
    let call = tokio_util::sync::CancellationToken::new();
    let begin = BeginCall {
        key: "1".into(),
        cancel: call.clone(),
    };
    created.session.send(begin).await.unwrap().unwrap();
    registry.send(Shutdown).await.unwrap();
    let ended = actix_rt::time::timeout(Duration::from_secs(5), receiver.recv()).await;
    assert_eq!(ended.unwrap(), None);
    assert!(
        !call.is_cancelled(),
        "running calls finish within the grace period"
    );
    assert_eq!(subscribers(&created).await, 0);
}

#[actix_rt::test]
async fn calls_are_tracked_limited_cancelled_and_ended() {
    use tokio_util::sync::CancellationToken;
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let begin = |key: &str, cancel: &CancellationToken| BeginCall {
        key: key.to_owned(),
        cancel: cancel.clone(),
    };
    let first = CancellationToken::new();
    let second = CancellationToken::new();
    let s = &created.session;
    assert_eq!(s.send(begin("1", &first)).await.unwrap(), Ok(()));
    assert_eq!(
        s.send(begin("1", &second)).await.unwrap(),
        Err(BeginCallError::DuplicateId("1".into()))
    );
    assert_eq!(s.send(begin("2", &second)).await.unwrap(), Ok(()));
    assert_eq!(
        s.send(begin("3", &second)).await.unwrap(),
        Err(BeginCallError::TooManyCalls(2))
    );
    assert!(s.send(CancelCall { key: "1".into() }).await.unwrap());
    assert!(first.is_cancelled());
    assert!(!second.is_cancelled());
    s.send(EndCall { key: "1".into() }).await.unwrap();
    assert!(!s.send(CancelCall { key: "1".into() }).await.unwrap());
    s.send(Stop).await.unwrap().unwrap();
    assert!(
        second.is_cancelled(),
        "ending the session cancels its calls"
    );
}

#[actix_rt::test]
async fn a_follower_resuming_after_an_event_gets_exactly_what_followed_it() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    publish(&created, 1..=5).await;
    let mut resumed = created
        .session
        .send(SubscribeAfter(2))
        .await
        .unwrap()
        .unwrap();
    publish(&created, 6..=7).await;
    for id in 3..=7 {
        assert_eq!(event_id(resumed.recv().await), id);
    }
    let mut caught_up = created
        .session
        .send(SubscribeAfter(7))
        .await
        .unwrap()
        .unwrap();
    publish(&created, 8..=8).await;
    assert_eq!(event_id(caught_up.recv().await), 8);
}

#[actix_rt::test]
async fn resuming_from_before_the_history_opens_with_the_count_of_lost_events() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    publish(&created, 1..=20).await;
    let mut resumed = created
        .session
        .send(SubscribeAfter(1))
        .await
        .unwrap()
        .unwrap();
    // The history keeps 16 events, 5 to 20: 2, 3 and 4 are gone.
    assert_eq!(resumed.recv().await, Some(StreamItem::Lagged { missed: 3 }));
    for id in 5..=20 {
        assert_eq!(event_id(resumed.recv().await), id);
    }
}

#[actix_rt::test]
async fn a_follower_that_fell_behind_is_told_how_many_it_missed_before_the_next_event() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let mut slow = subscribe(&created).await;
    let mut fast = subscribe(&created).await;
    for progress in 1..=20 {
        publish(&created, progress..=progress).await;
        assert_eq!(event_id(fast.recv().await), progress);
    }
    // The slow follower's queue holds 8: events 9 to 20 were dropped for it, and counted.
    for id in 1..=8 {
        assert_eq!(event_id(slow.recv().await), id);
    }
    assert_eq!(slow.recv().await, Some(StreamItem::Lagged { missed: 12 }));
    publish(&created, 21..=21).await;
    assert_eq!(event_id(slow.recv().await), 21);
    assert_eq!(event_id(fast.recv().await), 21);
}

#[actix_rt::test]
async fn stop_tells_every_follower_the_session_ended_and_the_registry_forgets_it() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let mut reader = subscribe(&created).await;
    let mut stalled = subscribe(&created).await;
    for progress in 1..=10 {
        publish(&created, progress..=progress).await;
        assert_eq!(event_id(reader.recv().await), progress);
    }
    let call = tokio_util::sync::CancellationToken::new();
    let begin = BeginCall {
        key: "1".into(),
        cancel: call.clone(),
    };
    created.session.send(begin).await.unwrap().unwrap();
    created.session.send(Stop).await.unwrap().unwrap();

    let ended = Some(StreamItem::SessionEnded(EndReason::Closed));
    assert_eq!(reader.recv().await, ended);
    assert_eq!(reader.recv().await, None);
    for id in 1..=8 {
        assert_eq!(event_id(stalled.recv().await), id);
    }
    assert_eq!(stalled.recv().await, Some(StreamItem::Lagged { missed: 2 }));
    assert_eq!(stalled.recv().await, ended);
    assert_eq!(stalled.recv().await, None);
    assert!(call.is_cancelled());
    assert!(registry.send(Lookup(created.id)).await.unwrap().is_none());
    let token = created.token.clone();
    assert!(created.session.send(Authenticate { token }).await.is_err());
}

#[actix_rt::test]
async fn an_ended_session_frees_its_place_under_the_limit() {
    let registry = SessionRegistry::new(LIMITS).start();
    let first = create(&registry).await;
    for _ in 1..LIMITS.max_sessions {
        create(&registry).await;
    }
    first.session.send(Stop).await.unwrap().unwrap();
    create(&registry).await;
}

#[actix_rt::test]
async fn an_unused_session_expires_and_is_forgotten() {
    let registry = SessionRegistry::new(expiring(Duration::from_millis(200))).start();
    let created = create(&registry).await;
    wait_until_forgotten(&registry, &created).await;
    let token = created.token.clone();
    assert!(created.session.send(Authenticate { token }).await.is_err());
}

#[actix_rt::test]
async fn an_unused_timeout_ends_a_session_without_calls_and_a_first_call_lifts_it() {
    let unused = Duration::from_millis(200);
    let registry = SessionRegistry::new(expiring(Duration::from_secs(3600))).start();
    let trial = || Create {
        unused_timeout: Some(unused),
        ..create_by(Creator::Client(CLIENT))
    };
    let looked_at = registry.send(trial()).await.unwrap().unwrap();
    let worked = registry.send(trial()).await.unwrap().unwrap();
    // Requests that are not tool calls (a listing) do not lift it: they only count as activity.
    let token = looked_at.token.clone();
    looked_at
        .session
        .send(Authenticate { token })
        .await
        .unwrap()
        .unwrap();
    let begin = BeginCall {
        key: "1".into(),
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    worked.session.send(begin).await.unwrap().unwrap();
    worked
        .session
        .send(EndCall { key: "1".into() })
        .await
        .unwrap();
    wait_until_forgotten(&registry, &looked_at).await;
    actix_rt::time::sleep(unused * 3).await;
    let lookup = registry.send(Lookup(worked.id)).await.unwrap();
    assert!(
        lookup.is_some(),
        "a session that ran a call has the idle timeout"
    );
    // Sessions created without one, as by `POST /session`, have the idle timeout from the start.
    let plain = create(&registry).await;
    actix_rt::time::sleep(unused * 3).await;
    assert!(registry.send(Lookup(plain.id)).await.unwrap().is_some());
}

#[actix_rt::test]
async fn a_follower_that_keeps_up_or_a_running_call_keeps_a_session_alive() {
    let idle = Duration::from_millis(200);
    let registry = SessionRegistry::new(expiring(idle)).start();
    let created = create(&registry).await;
    let follower = subscribe(&created).await;
    actix_rt::time::sleep(idle * 3).await;
    let call = tokio_util::sync::CancellationToken::new();
    let begin = BeginCall {
        key: "1".into(),
        cancel: call.clone(),
    };
    created.session.send(begin).await.unwrap().unwrap();
    drop(follower);
    actix_rt::time::sleep(idle * 3).await;
    let lookup = registry.send(Lookup(created.id)).await.unwrap();
    assert!(lookup.is_some(), "a running call keeps the session alive");
    created
        .session
        .send(EndCall { key: "1".into() })
        .await
        .unwrap();
    wait_until_forgotten(&registry, &created).await;
    assert!(!call.is_cancelled(), "the call had ended before");
}

#[actix_rt::test]
async fn a_follower_that_stopped_reading_does_not_keep_a_session_alive_and_hears_it_expired() {
    let registry = SessionRegistry::new(expiring(Duration::from_millis(200))).start();
    let created = create(&registry).await;
    let mut stalled = subscribe(&created).await;
    let begin = BeginCall {
        key: "1".into(),
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    created.session.send(begin).await.unwrap().unwrap();
    publish(&created, 1..=10).await;
    created
        .session
        .send(EndCall { key: "1".into() })
        .await
        .unwrap();
    wait_until_forgotten(&registry, &created).await;
    for id in 1..=8 {
        assert_eq!(event_id(stalled.recv().await), id);
    }
    assert_eq!(stalled.recv().await, Some(StreamItem::Lagged { missed: 2 }));
    assert_eq!(
        stalled.recv().await,
        Some(StreamItem::SessionEnded(EndReason::Expired))
    );
    assert_eq!(stalled.recv().await, None);
}

#[actix_rt::test]
async fn session_creation_is_rate_limited_per_client_address() {
    let limits = RegistryLimits {
        create_per_minute: 2,
        ..LIMITS
    };
    let registry = SessionRegistry::new(limits).start();
    create(&registry).await;
    create(&registry).await;
    let refused = registry
        .send(create_by(Creator::Client(CLIENT)))
        .await
        .unwrap()
        .unwrap_err();
    let CreateError::RateLimited {
        limit: 2,
        retry_after_secs,
    } = refused
    else {
        panic!("expected a rate limit, got {refused:?}");
    };
    assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let elsewhere = registry.send(create_by(Creator::Client(other))).await;
    assert!(
        elsewhere.unwrap().is_ok(),
        "another address has its own allowance"
    );
    let own = registry.send(create_by(Creator::Daemon)).await;
    assert!(
        own.unwrap().is_ok(),
        "the daemon's own sessions are not limited"
    );
}

#[actix_rt::test]
async fn the_registry_lists_live_sessions_and_they_describe_themselves_without_a_token() {
    let registry = SessionRegistry::new(LIMITS).start();
    let own = registry
        .send(create_by(Creator::Daemon))
        .await
        .unwrap()
        .unwrap();
    let a = create(&registry).await;
    let b = create(&registry).await;
    let before = a.session.send(Describe).await.unwrap().last_activity;

    let mut listed = registry.send(ListSessions).await.unwrap();
    listed.sort_by_key(|entry| entry.id);
    let mut expected = vec![(own.id, true), (a.id, false), (b.id, false)];
    expected.sort();
    let got: Vec<_> = listed
        .iter()
        .map(|entry| (entry.id, entry.by_daemon))
        .collect();
    assert_eq!(got, expected);

    let info = a.session.send(Describe).await.unwrap();
    assert_eq!(info.id, a.id);
    assert_eq!(info.label.as_deref(), Some("test"));
    assert_eq!(info.last_activity, before, "describing is not activity");

    b.session.send(Stop).await.unwrap().unwrap();
    wait_until_forgotten(&registry, &b).await;
    let listed = registry.send(ListSessions).await.unwrap();
    assert!(listed.iter().all(|entry| entry.id != b.id));
    assert_eq!(listed.len(), 2);
}

#[actix_rt::test]
async fn the_ticket_book_lets_a_ticket_in_once() {
    let book = TicketBook::new(TicketLimits {
        ttl: Duration::from_millis(150),
        max_tickets: 16,
    })
    .start();
    let session = uuid::Uuid::new_v4();
    let issued = book.send(IssueTicket(session)).await.unwrap().unwrap();
    assert_eq!(issued.expires_in, Duration::from_millis(150));
    let redeem = |ticket: &str| RedeemTicket {
        ticket: ticket.to_owned(),
        session,
    };
    assert!(book.send(redeem(&issued.ticket)).await.unwrap());
    assert!(!book.send(redeem(&issued.ticket)).await.unwrap());

    let late = book.send(IssueTicket(session)).await.unwrap().unwrap();
    actix_rt::time::sleep(Duration::from_millis(250)).await;
    assert!(!book.send(redeem(&late.ticket)).await.unwrap(), "expired");
}
