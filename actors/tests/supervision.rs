//! A `SessionActor` that panics: what becomes of it, and of everything else.
//!
//! In the daemon, the registry and every session actor run on one arbiter (the system's, where
//! the registry is started and where it starts each session). Nothing supervises them
//! (no `actix::Supervised`), so a panic in a session's handler must cost that session alone: the
//! panic unwinds to the actor's task, which tokio catches at the task boundary; actix then drops
//! the actor's context, which stops it (running `stopped`, which tells the registry to forget
//! it). These tests run the same arrangement (one arbiter: the test's system) and inject the
//! panic through a message only this test defines: no input of the daemon can make a session
//! actor panic, but a future bug might.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use construct_actors::*;
use tokio_util::sync::CancellationToken;

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 8,
    create_per_minute: 100,
    session: SessionLimits {
        subscriber_queue: 8,
        subscriber_queue_bytes: 1 << 20,
        max_subscribers: 4,
        max_calls: 2,
        history: 16,
        history_bytes: 1 << 20,
        idle_timeout: None,
        unused_timeout: None,
    },
};

const WAIT: Duration = Duration::from_secs(10);

/// Makes the session actor that handles it panic.
struct Boom;

impl Message for Boom {
    type Result = ();
}

impl Handler<Boom> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: Boom, _: &mut Self::Context) {
        panic!("a session actor panics (injected by the test)");
    }
}

async fn create(registry: &Addr<SessionRegistry>) -> CreatedSession {
    registry
        .send(Create {
            cwd: std::env::temp_dir().into(),
            label: None,
            by: Creator::Client(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            home: None,
            unused_timeout: None,
        })
        .await
        .unwrap()
        .unwrap()
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

async fn authenticates(created: &CreatedSession) -> bool {
    matches!(
        created
            .session
            .send(Authenticate {
                token: created.token.clone(),
            })
            .await,
        Ok(Ok(_))
    )
}

/// A session whose actor panicked, with a follower and a running call, and a bystander session.
struct Scene {
    registry: Addr<SessionRegistry>,
    victim: CreatedSession,
    follower: tokio::sync::mpsc::Receiver<StreamItem>,
    call: CancellationToken,
    bystander: CreatedSession,
}

async fn panic_one_session() -> Scene {
    let registry = SessionRegistry::new(LIMITS).start();
    let victim = create(&registry).await;
    let bystander = create(&registry).await;
    let mut follower = victim.session.send(Subscribe).await.unwrap().unwrap();
    let call = CancellationToken::new();
    victim
        .session
        .send(BeginCall {
            key: "1".into(),
            cancel: call.clone(),
        })
        .await
        .unwrap()
        .unwrap();
    victim.session.send(Publish(event(1))).await.unwrap();
    assert!(matches!(follower.recv().await, Some(StreamItem::Event(_))));

    // The sender of the message that panicked gets an error, not a hang.
    let answer = tokio::time::timeout(WAIT, victim.session.send(Boom))
        .await
        .expect("a panicking handler does not leave its sender waiting");
    assert!(matches!(answer, Err(MailboxError::Closed)), "{answer:?}");
    Scene {
        registry,
        victim,
        follower,
        call,
        bystander,
    }
}

#[actix_rt::test]
async fn a_panicking_session_actor_takes_down_only_itself() {
    let Scene {
        registry,
        victim,
        mut follower,
        bystander,
        ..
    } = panic_one_session().await;

    // The arbiter survived: the other session, the registry and new sessions all work.
    let mut watching = bystander.session.send(Subscribe).await.unwrap().unwrap();
    assert!(authenticates(&bystander).await);
    bystander.session.send(Publish(event(1))).await.unwrap();
    assert!(matches!(
        tokio::time::timeout(WAIT, watching.recv()).await.unwrap(),
        Some(StreamItem::Event(ref e)) if e.id == 1
    ));
    let fresh = create(&registry).await;
    assert!(authenticates(&fresh).await);

    // The panicked session is gone for good: messages fail at once, the registry forgets it
    // (so the daemon answers 401 for it), and its follower's stream closes instead of hanging.
    assert!(!victim.session.connected());
    assert!(!authenticates(&victim).await);
    let deadline = Instant::now() + WAIT;
    while registry.send(Lookup(victim.id)).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the registry never forgot the session"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let last = tokio::time::timeout(WAIT, follower.recv())
        .await
        .expect("the follower's stream closes");
    eprintln!("the panicked session's follower got {last:?} and then its stream closed");
    assert!(matches!(last, None | Some(StreamItem::SessionEnded(_))));
}

/// A session that panics ends as `Stop` would end it, with reason `closed`: its running calls
/// are cancelled (so they release their call slots instead of running on unowned) and its
/// followers hear `SessionEnded` before their streams close (over HTTP:
/// `event: session-ended`), from `SessionActor`'s `Drop`.
#[actix_rt::test]
async fn a_panicking_session_actor_still_cancels_its_calls_and_tells_its_followers() {
    let Scene {
        mut follower, call, ..
    } = panic_one_session().await;
    let last = tokio::time::timeout(WAIT, follower.recv()).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !call.is_cancelled() && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        call.is_cancelled(),
        "the panicked session's call was not cancelled"
    );
    assert!(
        matches!(last, Some(StreamItem::SessionEnded(_))),
        "the follower got {last:?} instead of SessionEnded"
    );
}
