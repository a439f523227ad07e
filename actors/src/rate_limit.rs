//! The per-client-address limit on session creation: a fixed one-minute window per address.
//!
//! The table of windows lives inside the registry actor, so no lock guards it. Each window
//! counts in one atomic, which the registry may share: it hands the window of an address to the
//! worker that created that address's session (inside an
//! [`Allowance`](crate::admission::Allowance)), and the worker counts that address's next
//! creations itself until the window ends. Registry and workers count on the same atomic, with
//! compare-and-swap, so a window never counts past its limit, whoever counts.
//!
//! The table's memory is bounded whatever clients do: it tracks at most [`MAX_CLIENTS`]
//! addresses; when that many are tracked, windows that have ended are purged, and if every one is
//! still current a new address is refused as if it were over its limit, until the oldest window
//! ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The length of one counting window.
const WINDOW: Duration = Duration::from_secs(60);

/// Most client addresses tracked at once (by the registry, and by each worker).
pub(crate) const MAX_CLIENTS: usize = 4096;

/// One address's current window: when it began, and how many sessions the address created in it.
#[derive(Debug)]
pub(crate) struct Window {
    started: Instant,
    created: AtomicUsize,
    limit: usize,
}

impl Window {
    fn new(started: Instant, limit: usize) -> Self {
        Self {
            started,
            created: AtomicUsize::new(0),
            limit,
        }
    }

    /// Whether the window still counts at `now` (a new one begins once it has ended).
    pub(crate) fn is_current(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) < WINDOW
    }

    /// Counts one creation, if the window has room for it.
    pub(crate) fn take(&self) -> bool {
        // Relaxed: the count is the only thing this atomic publishes, and read-modify-writes
        // of one atomic are totally ordered whatever the ordering.
        self.created
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |created| {
                (created < self.limit).then_some(created + 1)
            })
            .is_ok()
    }

    /// How long from `now` until the window ends.
    fn remaining(&self, now: Instant) -> Duration {
        WINDOW.saturating_sub(now.saturating_duration_since(self.started))
    }
}

/// Counts session creations per client address.
pub(crate) struct CreationLimiter {
    per_window: usize,
    windows: HashMap<IpAddr, Arc<Window>>,
}

impl CreationLimiter {
    /// A limiter allowing `per_window` creations per address per minute.
    pub(crate) fn new(per_window: usize) -> Self {
        Self {
            per_window,
            windows: HashMap::new(),
        }
    }

    /// Counts one creation by `client` at `now`, and gives the window it was counted in; or says
    /// how long until `client` may create again.
    pub(crate) fn admit(&mut self, client: IpAddr, now: Instant) -> Result<Arc<Window>, Duration> {
        if !self.windows.contains_key(&client) && self.windows.len() >= MAX_CLIENTS {
            self.windows.retain(|_, window| window.is_current(now));
            if self.windows.len() >= MAX_CLIENTS {
                let oldest = self
                    .windows
                    .values()
                    .map(|window| window.remaining(now))
                    .min();
                return Err(oldest.unwrap_or(WINDOW));
            }
        }
        let per_window = self.per_window;
        let window = self
            .windows
            .entry(client)
            .or_insert_with(|| Arc::new(Window::new(now, per_window)));
        if !window.is_current(now) {
            // Workers still holding the old window see it ended, and ask here again.
            *window = Arc::new(Window::new(now, per_window));
        }
        if window.take() {
            Ok(Arc::clone(window))
        } else {
            Err(window.remaining(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn address(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn each_address_gets_its_own_budget_per_window() {
        let mut limiter = CreationLimiter::new(2);
        let start = Instant::now();
        assert!(limiter.admit(address(1), start).is_ok());
        assert!(limiter.admit(address(1), start).is_ok());
        let later = start + Duration::from_secs(20);
        assert_eq!(
            limiter.admit(address(1), later).unwrap_err(),
            Duration::from_secs(40)
        );
        assert!(limiter.admit(address(2), later).is_ok());
        assert!(limiter.admit(address(1), start + WINDOW).is_ok());
    }

    #[test]
    fn the_table_of_addresses_is_bounded_and_purged_of_ended_windows() {
        let mut limiter = CreationLimiter::new(1);
        let start = Instant::now();
        let later = start + Duration::from_secs(30);
        let max = u32::try_from(MAX_CLIENTS).unwrap();
        for n in 0..max {
            let at = if n % 2 == 0 { start } else { later };
            assert!(limiter.admit(address(n), at).is_ok());
        }
        let soon = later + Duration::from_secs(1);
        assert_eq!(
            limiter.admit(address(max), soon).unwrap_err(),
            Duration::from_secs(29),
            "a full table of current windows refuses new addresses"
        );
        assert!(
            limiter.admit(address(1), soon).is_err(),
            "known ones keep their count"
        );
        assert_eq!(limiter.windows.len(), MAX_CLIENTS);
        assert!(limiter.admit(address(max), start + WINDOW).is_ok());
        assert_eq!(
            limiter.windows.len(),
            MAX_CLIENTS / 2 + 1,
            "ended windows were purged, current ones kept"
        );
    }
}
