//! A bound on store reads for client ids nobody registered. The negative cache answers an id
//! seen before; each fresh made-up id would cost a read, so those reads are rate-limited per
//! certificate (or, without one, per peer address) and overall. Past the limit an id counts as
//! unknown without asking the store: the caller gets the same `invalid_client` either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Who is asking: the certificate it presented, or its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissKey {
    Certificate([u8; 32]),
    Address(IpAddr),
}

/// Store reads for unknown ids one requester may cause: a burst, then this many per second.
const PER_KEY_BURST: f64 = 50.0;
const PER_KEY_RATE: f64 = 10.0;
/// And all requesters together.
const GLOBAL_BURST: f64 = 1000.0;
const GLOBAL_RATE: f64 = 500.0;
/// Requesters tracked at once; idle ones are forgotten first.
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self { tokens: burst, at: now }
    }

    fn refill(&mut self, burst: f64, rate: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
    }
}

#[derive(Debug)]
pub struct MissLimiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    per_key: HashMap<MissKey, Bucket>,
    global: Bucket,
}

impl Default for MissLimiter {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                per_key: HashMap::new(),
                global: Bucket::full(GLOBAL_BURST, Instant::now()),
            }),
        }
    }
}

impl MissLimiter {
    /// Whether `key` may cause one more store read now; takes it from both budgets if so.
    pub fn allow(&self, key: MissKey, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { per_key, global } = &mut *state;
        global.refill(GLOBAL_BURST, GLOBAL_RATE, now);
        if per_key.len() >= MAX_KEYS && !per_key.contains_key(&key) {
            per_key.retain(|_, b| {
                b.refill(PER_KEY_BURST, PER_KEY_RATE, now);
                b.tokens < PER_KEY_BURST
            });
            if per_key.len() >= MAX_KEYS {
                per_key.clear();
            }
        }
        let bucket = per_key.entry(key).or_insert_with(|| Bucket::full(PER_KEY_BURST, now));
        bucket.refill(PER_KEY_BURST, PER_KEY_RATE, now);
        if bucket.tokens < 1.0 || global.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        global.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_requester_gets_a_burst_then_its_rate() {
        let limiter = MissLimiter::default();
        let t0 = Instant::now();
        let me = MissKey::Certificate([1; 32]);
        let allowed = (0..200).filter(|_| limiter.allow(me, t0)).count();
        assert_eq!(allowed, PER_KEY_BURST as usize);
        assert!(
            limiter.allow(MissKey::Certificate([2; 32]), t0),
            "others are not affected"
        );
        let later = t0 + Duration::from_secs(1);
        let refilled = (0..200).filter(|_| limiter.allow(me, later)).count();
        assert_eq!(refilled, PER_KEY_RATE as usize);
    }

    #[test]
    fn all_requesters_together_are_bounded() {
        let limiter = MissLimiter::default();
        let t0 = Instant::now();
        let allowed = (0..5_000u32)
            .filter(|i| limiter.allow(MissKey::Address(IpAddr::from(i.to_be_bytes())), t0))
            .count();
        assert_eq!(allowed, GLOBAL_BURST as usize);
    }

    #[test]
    fn tracking_stays_bounded() {
        let limiter = MissLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS as u32 + 500) {
            limiter.allow(MissKey::Address(IpAddr::from(i.to_be_bytes())), t0);
        }
        assert!(limiter.state.lock().unwrap().per_key.len() <= MAX_KEYS);
    }
}
