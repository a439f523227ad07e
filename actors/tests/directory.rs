//! A worker's `SessionDirectory`: it finds sessions through the registry once, then by itself,
//! and answers an unknown session, a wrong token and an ended session alike. It makes sessions
//! with the registry's leave: they run on the worker's thread, the registry knows every one, and
//! the limits hold exactly whichever way a creation goes (through a directory on either worker,
//! or to the registry itself, all at once).

use std::net::{IpAddr, Ipv4Addr};
use std::thread::ThreadId;
use std::time::Duration;

use actix::prelude::*;
use construct_actors::*;

mod common;

const LIMITS: RegistryLimits = RegistryLimits {
    max_sessions: 8,
    create_per_minute: 100,
    session: common::SESSION_LIMITS,
};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Asks a session which thread it runs on.
struct WhichThread;

impl Message for WhichThread {
    type Result = ThreadId;
}

impl Handler<WhichThread> for SessionActor {
    type Result = MessageResult<WhichThread>;

    fn handle(&mut self, _: WhichThread, _: &mut Self::Context) -> Self::Result {
        MessageResult(std::thread::current().id())
    }
}

fn create_by(by: Creator) -> Create {
    Create {
        cwd: std::env::temp_dir().into(),
        label: None,
        by,
        home: None,
        unused_timeout: None,
    }
}

/// A registry with `limits`, and a directory on each of two worker threads.
struct Daemon {
    registry: Addr<SessionRegistry>,
    workers: Vec<(Arbiter, Addr<SessionDirectory>)>,
}

impl Daemon {
    fn start(limits: RegistryLimits) -> Self {
        let registry = SessionRegistry::new(limits).start();
        let workers = (0..2)
            .map(|_| {
                let worker = Arbiter::new();
                let registry = registry.clone();
                let directory = SessionDirectory::start_in_arbiter(&worker.handle(), move |_| {
                    SessionDirectory::new(registry)
                });
                (worker, directory)
            })
            .collect();
        Self { registry, workers }
    }

    /// `n` creations of `by` at once: by turns through each worker's directory and the
    /// registry itself.
    async fn create_at_once(
        &self,
        n: usize,
        by: Creator,
    ) -> Vec<Result<CreatedSession, CreateError>> {
        let asked: Vec<_> = (0..n)
            .map(|i| match i % 3 {
                2 => actix_rt::spawn(self.registry.send(create_by(by))),
                w => actix_rt::spawn(self.workers[w].1.send(create_by(by))),
            })
            .collect();
        let mut answers = Vec::new();
        for answer in asked {
            answers.push(answer.await.unwrap().unwrap());
        }
        answers
    }

    /// One session of `by` through each worker's directory, one after the other: each comes
    /// from the registry with leave for the directory to make the next ones itself.
    async fn warm(&self, by: Creator) -> Vec<CreatedSession> {
        let mut created = Vec::new();
        for (_, directory) in &self.workers {
            created.push(directory.send(create_by(by)).await.unwrap().unwrap());
        }
        created
    }

    async fn live(&self) -> usize {
        self.registry.send(ListSessions).await.unwrap().len()
    }
}

/// Waits until the registry no longer knows session `id`.
async fn wait_until_forgotten(registry: &Addr<SessionRegistry>, id: uuid::Uuid) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while registry.send(Lookup(id)).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "never forgotten");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn create(registry: &Addr<SessionRegistry>, home: Option<ArbiterHandle>) -> CreatedSession {
    registry
        .send(Create {
            home,
            ..create_by(Creator::Client(CLIENT))
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
async fn a_session_met_by_a_directory_is_known_to_its_worker_until_it_stops() {
    let registry = SessionRegistry::new(LIMITS).start();
    let directory = SessionDirectory::new(registry.clone());
    let known = directory.known();
    let directory = directory.start();
    let other = SessionDirectory::new(registry.clone());
    let known_elsewhere = other.known();
    let other = other.start();
    let created = create(&registry, None).await;
    // Not met yet: handlers ask the directory.
    assert!(known.session(created.id).is_none());

    authorize(&directory, created.id, &created.token)
        .await
        .unwrap();
    assert_eq!(known.session(created.id), Some(created.session.clone()));
    // Another worker's directory has a map of its own, and has not met it.
    assert!(known_elsewhere.session(created.id).is_none());
    authorize(&other, created.id, &created.token).await.unwrap();
    assert!(known_elsewhere.session(created.id).is_some());

    created.session.send(Stop).await.unwrap().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while known.session(created.id).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a stopped session is still known"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
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
    wait_until_forgotten(&registry, created.id).await;
}

#[actix_rt::test]
async fn a_directory_makes_sessions_on_its_own_thread_and_the_registry_knows_each() {
    let daemon = Daemon::start(LIMITS);
    let directory = &daemon.workers[0].1;
    let mut threads = Vec::new();
    for _ in 0..4 {
        // The first is made by the registry, the others by the directory with its leave.
        let created = directory
            .send(create_by(Creator::Client(CLIENT)))
            .await
            .unwrap()
            .unwrap();
        let found = daemon.registry.send(Lookup(created.id)).await.unwrap();
        assert_eq!(
            found,
            Some(created.session.clone()),
            "the registry knows it"
        );
        let token = created.token.clone();
        let info = created
            .session
            .send(Authenticate { token })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.id, created.id);
        threads.push(created.session.send(WhichThread).await.unwrap());
    }
    assert!(
        threads.iter().all(|thread| *thread == threads[0]),
        "every session runs on the directory's worker: {threads:?}"
    );
    assert_ne!(threads[0], std::thread::current().id());
    assert_eq!(daemon.live().await, 4);
}

#[actix_rt::test]
async fn the_session_limit_holds_exactly_across_workers_and_frees_places_as_sessions_end() {
    let daemon = Daemon::start(LIMITS);
    let warm = daemon.warm(Creator::Client(CLIENT)).await;
    let answers = daemon.create_at_once(30, Creator::Client(CLIENT)).await;
    let (created, refused): (Vec<_>, Vec<_>) = answers.into_iter().partition(Result::is_ok);
    assert_eq!(created.len(), LIMITS.max_sessions - warm.len());
    for refusal in refused {
        assert_eq!(
            refusal.unwrap_err(),
            CreateError::TooManySessions(LIMITS.max_sessions)
        );
    }
    assert_eq!(daemon.live().await, LIMITS.max_sessions);
    // The daemon's own sessions count against no limit, whichever way they are asked for.
    for answer in daemon.create_at_once(3, Creator::Daemon).await {
        answer.unwrap();
    }

    // Every ended session frees its place, made by a directory or by the registry alike.
    let created: Vec<_> = created.into_iter().map(Result::unwrap).collect();
    for ended in warm.iter().chain(&created[..1]) {
        ended.session.send(Stop).await.unwrap().unwrap();
        wait_until_forgotten(&daemon.registry, ended.id).await;
    }
    let answers = daemon.create_at_once(5, Creator::Client(CLIENT)).await;
    assert_eq!(answers.iter().filter(|answer| answer.is_ok()).count(), 3);
}

#[actix_rt::test]
async fn the_rate_limit_holds_exactly_across_workers() {
    let daemon = Daemon::start(RegistryLimits {
        max_sessions: 100,
        create_per_minute: 5,
        ..LIMITS
    });
    let warm = daemon.warm(Creator::Client(CLIENT)).await;
    let answers = daemon.create_at_once(20, Creator::Client(CLIENT)).await;
    let (created, refused): (Vec<_>, Vec<_>) = answers.into_iter().partition(Result::is_ok);
    assert_eq!(warm.len() + created.len(), 5);
    for refusal in refused {
        let refusal = refusal.unwrap_err();
        let CreateError::RateLimited {
            limit: 5,
            retry_after_secs,
        } = refusal
        else {
            panic!("expected a rate limit, got {refusal:?}");
        };
        assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
    }
    let other = Creator::Client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let elsewhere = daemon.create_at_once(6, other).await;
    assert_eq!(
        elsewhere.iter().filter(|answer| answer.is_ok()).count(),
        5,
        "another address has its own allowance"
    );
}

#[actix_rt::test]
async fn a_creation_refused_for_room_still_counts_against_the_rate_limit() {
    let daemon = Daemon::start(RegistryLimits {
        max_sessions: 1,
        create_per_minute: 3,
        ..LIMITS
    });
    let directory = &daemon.workers[0].1;
    let create = || directory.send(create_by(Creator::Client(CLIENT)));
    let first = create().await.unwrap().unwrap();
    for _ in 0..2 {
        assert_eq!(
            create().await.unwrap().unwrap_err(),
            CreateError::TooManySessions(1)
        );
    }
    first.session.send(Stop).await.unwrap().unwrap();
    wait_until_forgotten(&daemon.registry, first.id).await;
    let refused = create().await.unwrap().unwrap_err();
    assert!(
        matches!(refused, CreateError::RateLimited { limit: 3, .. }),
        "three creations were asked for this minute: {refused:?}"
    );
}
