//! A small in-memory limiter of failed attempts (staff login, access-code lookups), against
//! guessing. Per node: with several nodes an attacker gets the limit once per node, which
//! still bounds guessing to a few attempts per minute.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub fn new(max_failures: usize, window: Duration) -> Limiter {
        Limiter { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// Whether another attempt is allowed for `key`.
    pub fn allowed(&self, key: &str) -> bool {
        let mut map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        let entry = map.entry(key.to_string()).or_default();
        while entry.front().is_some_and(|t| now.duration_since(*t) > self.window) {
            entry.pop_front();
        }
        let ok = entry.len() < self.max_failures;
        if entry.is_empty() {
            map.remove(key);
        }
        ok
    }

    pub fn failed(&self, key: &str) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > 100_000 {
            // Bounded memory under a flood of distinct keys: forget the oldest state.
            map.clear();
        }
        map.entry(key.to_string()).or_default().push_back(Instant::now());
    }

    /// Mail the portal sends to an address someone typed (a draft's link, an account's
    /// links): at most the limit per browser session and per address within the window, so
    /// that the forms are no relay for mail to strangers. Counts the mail and returns true
    /// if both allow one more; otherwise counts nothing and returns false.
    pub fn mail_allowed(&self, kind: &str, tenant_id: &str, session_key: &str, to: &str) -> bool {
        let keys = [
            format!("{kind}-mail:{tenant_id}:{session_key}"),
            format!("{kind}-mail-to:{tenant_id}:{}", to.to_lowercase()),
        ];
        if keys.iter().any(|k| !self.allowed(k)) {
            return false;
        }
        keys.iter().for_each(|k| self.failed(k));
        true
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_too_many_failures() {
        let l = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(l.allowed("k"));
            l.failed("k");
        }
        assert!(!l.allowed("k"));
        assert!(l.allowed("other"));
        l.succeeded("k");
        assert!(l.allowed("k"));
    }
}
