//! The real clock and the operating system's randomness, handed to the domain.

use aftercall_shared::env::{Clock, Entropy};
use chrono::{DateTime, Utc};

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Randomness from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, out: &mut [u8]) {
        if let Err(e) = getrandom::fill(out) {
            // Without randomness no safe id or key can be made: stop rather than guess.
            panic!("the operating system gave no random bytes: {e}");
        }
    }
}
