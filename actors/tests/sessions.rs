//! The session actors on their own, without HTTP: creation, authentication, fan-out, limits.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use construct_actors::*;

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 4,
    session: SessionLimits {
        subscriber_queue: 8,
        max_subscribers: 3,
        max_calls: 2,
    },
};

async fn create(registry: &Addr<SessionRegistry>) -> CreatedSession {
    registry
        .send(Create {
            cwd: std::env::temp_dir(),
            label: Some("test".into()),
        })
        .await
        .unwrap()
        .unwrap()
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
    assert_eq!(wrong.unwrap_err(), Unauthorized);
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
    let mut first = created.session.send(Subscribe).await.unwrap().unwrap();
    let mut second = created.session.send(Subscribe).await.unwrap().unwrap();
    for progress in 1..=3 {
        created
            .session
            .send(Publish(event(progress)))
            .await
            .unwrap();
    }
    for receiver in [&mut first, &mut second] {
        for id in 1..=3 {
            let got = receiver.recv().await.unwrap();
            assert_eq!(got.id, id);
            assert!(got.data.json().contains(&format!("\"progress\":{id}")));
        }
    }
}

#[actix_rt::test]
async fn a_full_subscriber_loses_events_without_blocking_the_others() {
    let registry = SessionRegistry::new(LIMITS).start();
    let created = create(&registry).await;
    let _stalled = created.session.send(Subscribe).await.unwrap().unwrap();
    let mut reader = created.session.send(Subscribe).await.unwrap().unwrap();
    for progress in 1..=100 {
        created
            .session
            .send(Publish(event(progress)))
            .await
            .unwrap();
        assert_eq!(reader.recv().await.unwrap().id, progress);
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
        .send(Create {
            cwd: std::env::temp_dir(),
            label: None,
        })
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), CreateError::TooManySessions(4));

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
    s.send(Stop).await.unwrap();
    assert!(
        second.is_cancelled(),
        "ending the session cancels its calls"
    );
}
