//! A worker's `SessionDirectory`: it finds sessions through the registry once, then by itself,
//! and answers an unknown session, a wrong token and an ended session alike.

use std::net::{IpAddr, Ipv4Addr};

use actix::prelude::*;
use construct_actors::*;

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 8,
    create_per_minute: 100,
    session: SessionLimits {
        subscriber_queue: 8,
        subscriber_queue_bytes: 1 << 20,
        max_subscribers: 3,
        max_calls: 2,
        history: 16,
        history_bytes: 1 << 20,
        idle_timeout: None,
        unused_timeout: None,
    },
};

async fn create(registry: &Addr<SessionRegistry>, home: Option<ArbiterHandle>) -> CreatedSession {
    registry
        .send(Create {
            cwd: std::env::temp_dir(),
            label: None,
            by: Creator::Client(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            home,
            unused_timeout: None,
        })
        .await
        .unwrap()
        .unwrap()
}

async fn authorize(
    directory: &Addr<SessionDirectory>,
    id: uuid::Uuid,
    token: &str,
) -> Result<Authorized, AuthError> {
    directory
        .send(Authorize {
            id,
            token: token.to_owned(),
        })
        .await
        .unwrap()
}

#[actix_rt::test]
async fn a_session_is_found_with_its_token_only_and_not_after_it_ended() {
    let registry = SessionRegistry::new(LIMITS).start();
    let directory = SessionDirectory::new(registry.clone()).start();
    let created = create(&registry, None).await;

    // Asked of the registry the first time, remembered the second: the same actor both times.
    let first = authorize(&directory, created.id, &created.token)
        .await
        .unwrap();
    let second = authorize(&directory, created.id, &created.token)
        .await
        .unwrap();
    assert_eq!(first.session, created.session);
    assert_eq!(second.session, created.session);
    assert_eq!(second.info.id, created.id);

    let wrong = authorize(&directory, created.id, &"0".repeat(64)).await;
    assert_eq!(wrong.unwrap_err(), AuthError::Unauthorized);
    let unknown = authorize(&directory, uuid::Uuid::new_v4(), &created.token).await;
    assert_eq!(unknown.unwrap_err(), AuthError::Unauthorized);

    created.session.send(Stop).await.unwrap().unwrap();
    let ended = authorize(&directory, created.id, &created.token).await;
    assert_eq!(ended.unwrap_err(), AuthError::Unauthorized);
}

#[actix_rt::test]
async fn a_session_runs_on_the_arbiter_it_was_created_for() {
    let registry = SessionRegistry::new(LIMITS).start();
    let worker = Arbiter::new();
    let created = create(&registry, Some(worker.handle())).await;
    // A directory on that worker reaches it; so does one elsewhere (across threads).
    let local = SessionDirectory::start_in_arbiter(&worker.handle(), {
        let registry = registry.clone();
        move |_| SessionDirectory::new(registry)
    });
    let remote = SessionDirectory::new(registry.clone()).start();
    for directory in [&local, &remote] {
        let found = authorize(directory, created.id, &created.token)
            .await
            .unwrap();
        assert_eq!(found.info.id, created.id);
    }
    // Stopping the worker's arbiter ends the session with it, and the registry forgets it.
    worker.stop();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while registry.send(Lookup(created.id)).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "never forgotten");
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
