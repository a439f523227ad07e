//! The per-client-address limit on session creation: a fixed one-minute window per address.
//!
//! It lives inside the registry actor, so no lock guards it. Its memory is bounded whatever
//! clients do: it tracks at most [`MAX_CLIENTS`] addresses; when that many are tracked, windows
//! that have ended are purged, and if every one is still current a new address is refused as if
//! it were over its limit, until the oldest window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The length of one counting window.
const WINDOW: Duration = Duration::from_secs(60);

/// Most client addresses tracked at once.
const MAX_CLIENTS: usize = 4096;

/// One address's current window.
struct Window {
    started: Instant,
    count: usize,
}

/// Counts session creations per client address.
pub(crate) struct CreationLimiter {
    per_window: usize,
    windows: HashMap<IpAddr, Window>,
}

impl CreationLimiter {
    /// A limiter allowing `per_window` creations per address per minute.
    pub(crate) fn new(per_window: usize) -> Self {
        Self {
            per_window,
            windows: HashMap::new(),
        }
    }

    /// Counts one creation by `client` at `now`, or says how long until it may create again.
    pub(crate) fn admit(&mut self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if !self.windows.contains_key(&client) && self.windows.len() >= MAX_CLIENTS {
            self.windows
                .retain(|_, window| now.duration_since(window.started) < WINDOW);
            if self.windows.len() >= MAX_CLIENTS {
                let oldest = self.windows.values().map(|window| window.started).min();
                let elapsed = oldest.map_or(WINDOW, |started| now.duration_since(started));
                return Err(WINDOW.saturating_sub(elapsed));
            }
        }
        let window = self.windows.entry(client).or_insert(Window {
            started: now,
            count: 0,
        });
        let elapsed = now.duration_since(window.started);
        if elapsed >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        } else if window.count >= self.per_window {
            return Err(WINDOW - elapsed);
        }
        window.count += 1;
        Ok(())
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
        assert_eq!(limiter.admit(address(1), start), Ok(()));
        assert_eq!(limiter.admit(address(1), start), Ok(()));
        let later = start + Duration::from_secs(20);
        assert_eq!(
            limiter.admit(address(1), later),
            Err(Duration::from_secs(40))
        );
        assert_eq!(limiter.admit(address(2), later), Ok(()));
        assert_eq!(limiter.admit(address(1), start + WINDOW), Ok(()));
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
            limiter.admit(address(max), soon),
            Err(Duration::from_secs(29)),
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
