//! The login limiter: failed logins counted per user name and per peer address in a sliding
//! window, in memory. Password guessing against one user from many addresses, or against many
//! users from one address, is slowed to a few tries a minute; the counts are lost on restart,
//! which is acceptable for a desk with a handful of users (a restart is not cheaper than
//! waiting out the window).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per key within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most; past it the oldest quiet keys are forgotten, so a flood of
/// invented user names cannot grow memory without bound.
const MAX_KEYS: usize = 10_000;

/// Failed logins per user name and per peer.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn user_key(user: &str) -> String {
    format!("user:{user}")
}

fn peer_key(peer: IpAddr) -> String {
    format!("peer:{peer}")
}

impl LoginLimiter {
    /// `Some(seconds to wait)` when the user name or the peer has used up its failures.
    pub fn refused(&self, user: &str, peer: IpAddr, now: Instant) -> Option<u64> {
        let mut map = self.lock();
        [user_key(user), peer_key(peer)]
            .iter()
            .filter_map(|key| {
                let times = map.get_mut(key)?;
                prune(times, now);
                if times.len() >= MAX_FAILURES {
                    let oldest = *times.front()?;
                    let wait = WINDOW.saturating_sub(now.saturating_duration_since(oldest));
                    Some(wait.as_secs().max(1))
                } else {
                    None
                }
            })
            .max()
    }

    /// Counts a failed login against the user name and the peer.
    pub fn failed(&self, user: &str, peer: IpAddr, now: Instant) {
        let mut map = self.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for key in [user_key(user), peer_key(peer)] {
            if map.len() >= MAX_KEYS && !map.contains_key(&key) {
                // Still full of live keys: this failure is not counted, but the keys that
                // are counted keep refusing.
                continue;
            }
            let times = map.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
        }
    }

    /// A successful login clears the user name's failures (not the peer's: one good
    /// password does not license guessing others from the same address).
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&user_key(user));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // A panic while holding the lock leaves counts that are still counts.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_per_user_and_per_peer_are_refused_until_the_window_passes() {
        let limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for i in 0..MAX_FAILURES {
            assert_eq!(limiter.refused("ann", a, t0), None, "attempt {i}");
            limiter.failed("ann", a, t0);
        }
        assert!(limiter.refused("ann", a, t0).is_some());
        // Another address guessing the same user is refused too.
        assert!(limiter.refused("ann", b, t0).is_some());
        // Another user from the same address is refused too.
        assert!(limiter.refused("bob", a, t0).is_some());
        // Another user from another address is not.
        assert_eq!(limiter.refused("bob", b, t0), None);
        assert_eq!(limiter.refused("ann", a, t0 + WINDOW), None);
    }

    #[test]
    fn a_success_clears_the_user_not_the_peer() {
        let limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES {
            limiter.failed("ann", a, t0);
        }
        limiter.succeeded("ann");
        assert_eq!(limiter.refused("ann", b, t0), None);
        assert!(limiter.refused("ann", a, t0).is_some());
    }
}
