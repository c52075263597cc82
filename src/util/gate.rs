//! A gate in front of an expensive call to someone else's server (a key fetch): at most a few
//! calls in flight and a bounded rate of new ones, refused at once beyond either — no queue,
//! so a flood of callers costs the other server (and us) almost nothing. Used for Connect's
//! install keys and, with a gate of its own, Forge's key set.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits of a [`Gate`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateLimits {
    /// Calls in flight at once.
    pub(crate) in_flight: usize,
    /// Calls that may start back to back after a quiet spell.
    pub(crate) burst: u32,
    /// One more call may start every this long, on average.
    pub(crate) refill_every: Duration,
}

/// Admits calls within its [`GateLimits`].
pub(crate) struct Gate {
    limits: GateLimits,
    in_flight: Arc<Semaphore>,
    /// Tokens left (at most `burst`) and when they were last counted.
    bucket: Mutex<(f64, Instant)>,
}

/// Permission for one call; the in-flight place is given back when it is dropped.
pub(crate) struct Pass(#[allow(dead_code)] OwnedSemaphorePermit);

impl Gate {
    /// A gate with a full bucket.
    pub(crate) fn new(limits: GateLimits) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(limits.in_flight)),
            bucket: Mutex::new((f64::from(limits.burst), Instant::now())),
            limits,
        }
    }

    /// A pass for one call now, or `None` when too many are in flight or started lately.
    pub(crate) fn try_enter(&self) -> Option<Pass> {
        let permit = self.in_flight.clone().try_acquire_owned().ok()?;
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refilled =
            now.duration_since(bucket.1).as_secs_f64() / self.limits.refill_every.as_secs_f64();
        bucket.0 = (bucket.0 + refilled).min(f64::from(self.limits.burst));
        bucket.1 = now;
        if bucket.0 < 1.0 {
            return None;
        }
        bucket.0 -= 1.0;
        Some(Pass(permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(in_flight: usize, burst: u32) -> Gate {
        Gate::new(GateLimits {
            in_flight,
            burst,
            refill_every: Duration::from_secs(3600),
        })
    }

    #[test]
    fn no_more_than_the_in_flight_limit_at_once() {
        let gate = gate(2, 10);
        let first = gate.try_enter().unwrap();
        let _second = gate.try_enter().unwrap();
        assert!(gate.try_enter().is_none(), "a third in flight");
        drop(first);
        assert!(gate.try_enter().is_some(), "a place came free");
    }

    #[test]
    fn no_more_than_the_burst_until_the_bucket_refills() {
        let gate = gate(100, 3);
        let passes: Vec<Pass> = (0..10).filter_map(|_| gate.try_enter()).collect();
        assert_eq!(passes.len(), 3);
        drop(passes);
        assert!(
            gate.try_enter().is_none(),
            "finished calls do not refill the bucket"
        );
        let quick = Gate::new(GateLimits {
            in_flight: 1,
            burst: 1,
            refill_every: Duration::from_millis(1),
        });
        drop(quick.try_enter().unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(quick.try_enter().is_some(), "refilled with time");
    }
}
