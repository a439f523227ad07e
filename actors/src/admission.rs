//! Admission of clients' sessions, shared by the registry and the workers that create sessions
//! themselves.
//!
//! Why: asking the registry (on its own thread) for every new session costs two wake-ups of
//! other threads, which is more than everything else creating a session costs (BENCHMARKS.md,
//! "sessions"). So with a client address's session, the registry hands the worker that asked an
//! [`Allowance`]: leave to admit that address's next sessions itself, start their actors on its
//! own thread and tell the registry afterwards (through [`Arrivals`], which wakes nobody). The
//! registry still owns every session, and its limits hold exactly, because both are counted on
//! atomics the registry owns and shares, never copied:
//!
//! - the address's current [`Window`] of `create_per_minute` (the same one the registry counts
//!   on), taken first, as the registry does;
//! - the [`SessionCount`] of clients' sessions against `max_sessions`: the sessions in the
//!   registry's map plus those admitted by workers whose word is on its way.
//!
//! Each is taken with one compare-and-swap that never goes past the limit. Whenever either has no
//! room, or the window has ended, the worker hands the creation to the registry, which decides it
//! as it always has: it starts a new window, or drops sessions that stopped unnoticed before it
//! counts again, and refuses only when there is truly no room. So a worker never refuses and
//! never admits what the registry would not. No lock is involved: the registry alone changes
//! which window an address has and which sessions exist; the atomics only count.
//!
//! Cluster mode hands out no allowance: a session must be in Redis before its client may use it
//! on another node, and that write is the registry's (it costs far more than the thread hop).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::limits::SessionLimits;
use crate::rate_limit::{MAX_CLIENTS, Window};
use crate::registry::Arrivals;

/// How many clients' sessions are admitted: those the registry holds, plus those workers have
/// admitted that it has not taken from its [`Arrivals`] yet. Never more than
/// the limit by [`SessionCount::take`]; sessions the registry loads from the cluster's store are
/// counted even past it ([`SessionCount::add`]), as they always were.
#[derive(Debug)]
pub(crate) struct SessionCount {
    admitted: AtomicUsize,
    max: usize,
}

impl SessionCount {
    /// No sessions yet, at most `max`.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            admitted: AtomicUsize::new(0),
            max,
        }
    }

    /// Counts one more session, if there is room for it.
    pub(crate) fn take(&self) -> bool {
        // Relaxed: the count is the only thing this atomic publishes, and read-modify-writes of
        // one atomic are totally ordered whatever the ordering.
        self.admitted
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |admitted| {
                (admitted < self.max).then_some(admitted + 1)
            })
            .is_ok()
    }

    /// Counts one more session, room or not.
    pub(crate) fn add(&self) {
        self.admitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives back the places of `ended` sessions (or of admissions that came to nothing).
    pub(crate) fn release(&self, ended: usize) {
        self.admitted.fetch_sub(ended, Ordering::Relaxed);
    }
}

/// What the registry hands a worker with a client address's session: leave to admit that
/// address's next sessions itself, while its window lasts and both counts have room.
#[derive(Debug, Clone)]
pub(crate) struct Allowance {
    sessions: Arc<SessionCount>,
    window: Arc<Window>,
    /// The bounds of a new session (its `unused_timeout` is each creation's own).
    limits: SessionLimits,
    /// Where the sessions admitted are announced to the registry.
    arrivals: Arrivals,
}

impl Allowance {
    /// Leave to count against `sessions` and `window`; new sessions get `limits` and are
    /// announced to `arrivals`.
    pub(crate) fn new(
        sessions: Arc<SessionCount>,
        window: Arc<Window>,
        limits: SessionLimits,
        arrivals: Arrivals,
    ) -> Self {
        Self {
            sessions,
            window,
            limits,
            arrivals,
        }
    }
}

/// A worker's verdict on one creation.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Admitted here and counted against both limits: the session gets these bounds, and is
    /// announced there.
    Here(SessionLimits, Arrivals),
    /// For the registry to decide. `counted`: the address's window has counted it already (the
    /// daemon's limit of sessions had no room), so the registry checks that limit only.
    ByRegistry { counted: bool },
}

/// A worker's allowances, by client address: at most [`MAX_CLIENTS`] (those whose window has
/// ended are dropped to make room; past that, an address simply goes to the registry).
#[derive(Debug, Default)]
pub(crate) struct Allowances(HashMap<IpAddr, Allowance>);

impl Allowances {
    /// Admits one session of `client` at `now`, if this worker holds leave to.
    pub(crate) fn admit(&mut self, client: IpAddr, now: Instant) -> Admission {
        let Some(allowance) = self.0.get(&client) else {
            return Admission::ByRegistry { counted: false };
        };
        if !allowance.window.is_current(now) {
            self.0.remove(&client);
            return Admission::ByRegistry { counted: false };
        }
        if !allowance.window.take() {
            // The registry refuses it, saying how long until the window ends.
            return Admission::ByRegistry { counted: false };
        }
        if !allowance.sessions.take() {
            return Admission::ByRegistry { counted: true };
        }
        Admission::Here(allowance.limits, allowance.arrivals.clone())
    }

    /// Keeps `allowance`, the registry's leave to admit `client`'s next sessions here.
    pub(crate) fn keep(&mut self, client: IpAddr, allowance: Allowance, now: Instant) {
        if !self.0.contains_key(&client) && self.0.len() >= MAX_CLIENTS {
            self.0.retain(|_, kept| kept.window.is_current(now));
            if self.0.len() >= MAX_CLIENTS {
                return;
            }
        }
        self.0.insert(client, allowance);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::rate_limit::CreationLimiter;

    const LIMITS: SessionLimits = SessionLimits {
        subscriber_queue: 8,
        subscriber_queue_bytes: 1 << 20,
        max_subscribers: 3,
        max_calls: 2,
        history: 16,
        history_bytes: 1 << 20,
        idle_timeout: None,
        unused_timeout: None,
    };

    fn address(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    /// The registry's side: `per_minute` for each address, `max` sessions, as of `now`.
    struct Registry {
        limiter: CreationLimiter,
        sessions: Arc<SessionCount>,
        now: Instant,
        arrivals: Arrivals,
    }

    /// Whether `admission` admits the session here, with the tests' limits.
    fn admitted_here(admission: Admission) -> bool {
        matches!(admission, Admission::Here(limits, _) if limits == LIMITS)
    }

    /// Whether `admission` hands the creation to the registry, `counted` as given.
    fn referred(admission: Admission, counted: bool) -> bool {
        matches!(admission, Admission::ByRegistry { counted: c } if c == counted)
    }

    impl Registry {
        fn new(per_minute: usize, max: usize) -> Self {
            Self {
                limiter: CreationLimiter::new(per_minute),
                sessions: Arc::new(SessionCount::new(max)),
                now: Instant::now(),
                arrivals: crate::registry::arrivals::channel_pair().0,
            }
        }

        /// Admits one creation of `client` as the registry does, handing out leave with it.
        fn allowance(&mut self, client: IpAddr) -> Allowance {
            let window = self.limiter.admit(client, self.now).unwrap();
            assert!(self.sessions.take());
            let arrivals = self.arrivals.clone();
            Allowance::new(Arc::clone(&self.sessions), window, LIMITS, arrivals)
        }
    }

    #[test]
    fn a_worker_admits_only_what_both_counts_have_room_for() {
        let mut registry = Registry::new(3, 10);
        let mut worker = Allowances::default();
        let now = registry.now;
        assert!(
            referred(worker.admit(address(1), now), false),
            "without leave, the registry decides"
        );
        worker.keep(address(1), registry.allowance(address(1)), now);
        assert!(admitted_here(worker.admit(address(1), now)));
        assert!(admitted_here(worker.admit(address(1), now)));
        assert!(
            referred(worker.admit(address(1), now), false),
            "the window is used up: the registry refuses, saying until when"
        );
        assert!(
            registry.limiter.admit(address(1), now).is_err(),
            "the registry counted the worker's creations"
        );
        assert!(
            referred(worker.admit(address(2), now), false),
            "leave is per address"
        );
    }

    #[test]
    fn a_full_daemon_is_left_to_the_registry_with_the_window_counted() {
        let mut registry = Registry::new(5, 2);
        let mut worker = Allowances::default();
        let now = registry.now;
        worker.keep(address(1), registry.allowance(address(1)), now);
        assert!(admitted_here(worker.admit(address(1), now)));
        assert!(referred(worker.admit(address(1), now), true));
        registry.sessions.release(1);
        assert!(admitted_here(worker.admit(address(1), now)));
        assert!(!registry.sessions.take(), "never past the limit");
        // The window counted the registry's one and the worker's three (one refused a place).
        assert!(registry.limiter.admit(address(1), now).is_ok());
        assert!(registry.limiter.admit(address(1), now).is_err());
    }

    #[test]
    fn leave_ends_with_its_window() {
        let mut registry = Registry::new(100, 100);
        let mut worker = Allowances::default();
        let start = registry.now;
        worker.keep(address(1), registry.allowance(address(1)), start);
        let later = start + Duration::from_secs(60);
        assert!(referred(worker.admit(address(1), later), false));
        assert!(worker.0.is_empty(), "an ended window is dropped");
    }

    #[test]
    fn a_worker_keeps_leave_for_a_bounded_number_of_addresses() {
        let mut registry = Registry::new(100_000, 100_000);
        let mut worker = Allowances::default();
        let start = registry.now;
        // One window stands for every address here: the bound is on the worker's table.
        let leave = registry.allowance(address(0));
        let max = u32::try_from(MAX_CLIENTS).unwrap();
        for n in 0..=max {
            worker.keep(address(n), leave.clone(), start);
        }
        assert_eq!(worker.0.len(), MAX_CLIENTS);
        assert!(
            referred(worker.admit(address(max), start), false),
            "one past the bound is not kept: its creations go to the registry"
        );
        let later = start + Duration::from_secs(60);
        registry.now = later;
        worker.keep(address(max), registry.allowance(address(max)), later);
        assert_eq!(worker.0.len(), 1, "ended windows made room");
        assert!(admitted_here(worker.admit(address(max), later)));
    }
}
