//! A target's lock budget and how it grows over retries. Pure.

use std::time::Duration;

/// The budget of one target, from `xtask.toml`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub lock_timeout: Duration,
    pub retries: u32,
}

impl Budget {
    /// Attempt `n` (0-based) waits 1x, 2x, then 4x the budget: the cap.
    pub fn for_attempt(&self, n: u32) -> Duration {
        self.lock_timeout * 2u32.pow(n.min(2))
    }

    /// The pause before attempt `n` (1-based retries): 1 s, 2 s, 4 s, ...
    pub fn pause_before(&self, n: u32) -> Duration {
        Duration::from_secs(1 << (n.saturating_sub(1)).min(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_doubles_up_to_four_times_and_the_pause_grows() {
        let b = Budget { lock_timeout: Duration::from_secs(5), retries: 3 };
        let budgets: Vec<u64> = (0..4).map(|n| b.for_attempt(n).as_secs()).collect();
        assert_eq!(budgets, [5, 10, 20, 20]);
        assert_eq!((b.pause_before(1).as_secs(), b.pause_before(3).as_secs()), (1, 4));
    }
}
