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

/// The batch cut for the push: runs of ordinary files, under the budget, and each file with CONCURRENTLY
/// statements on its own, without one (`concurrent[i]`: file i has them). Why no budget there: `CREATE INDEX
/// CONCURRENTLY` (and DROP/REINDEX/DETACH ... CONCURRENTLY) takes SHARE UPDATE EXCLUSIVE, which no read or write
/// conflicts with, and then waits for older transactions to end; nobody queues behind that wait, and cancelling
/// it would leave an INVALID index behind.
pub fn segments(concurrent: &[bool]) -> Vec<(std::ops::Range<usize>, bool)> {
    let mut out: Vec<(std::ops::Range<usize>, bool)> = Vec::new();
    for (i, c) in concurrent.iter().enumerate() {
        match out.last_mut() {
            Some((range, true)) if !c => range.end = i + 1,
            _ => out.push((i..i + 1, !c)),
        }
    }
    out
}

/// The indexes a file builds CONCURRENTLY, by name as the catalog spells them (unquoted names fold to lower
/// case): where a cancelled or failed build leaves an INVALID index.
pub fn concurrent_index_names(text: &str) -> Vec<String> {
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == '(' || c == ';').filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // `create [unique] index concurrently`: a build (a DROP leaves nothing invalid behind).
        let before: Vec<String> = words[..i].iter().rev().take(3).map(|p| p.to_ascii_lowercase()).collect();
        let build = before.first().is_some_and(|p| p == "index") && before.iter().any(|p| p == "create");
        if !w.eq_ignore_ascii_case("concurrently") || !build {
            continue;
        }
        let rest = &words[i + 1..];
        let skip = if rest.len() >= 3 && rest[0].eq_ignore_ascii_case("if") && rest[1].eq_ignore_ascii_case("not") {
            3
        } else {
            0
        };
        match rest.get(skip) {
            Some(name) if !name.eq_ignore_ascii_case("on") => {
                out.push(match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                    Some(quoted) => quoted.to_string(),
                    None => name.to_lowercase(),
                })
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexes_built_concurrently_are_named() {
        let sql = "create index concurrently if not exists Enrollments_Active_IDX on public.enrollments (org_id);\n\
                   create unique index concurrently \"Quoted\" on t(a);\ncreate index plain_idx on t (a);\n\
                   drop index concurrently if exists old_idx;\ncreate index concurrently on t (b);";
        assert_eq!(concurrent_index_names(sql), ["enrollments_active_idx", "Quoted"]);
    }

    #[test]
    fn concurrently_files_stand_alone_without_a_budget() {
        assert_eq!(
            segments(&[false, false, true, true, false]),
            [(0..2, true), (2..3, false), (3..4, false), (4..5, true)]
        );
        assert_eq!(segments(&[false]), [(0..1, true)]);
        assert!(segments(&[]).is_empty());
    }

    #[test]
    fn the_budget_doubles_up_to_four_times_and_the_pause_grows() {
        let b = Budget { lock_timeout: Duration::from_secs(5), retries: 3 };
        let budgets: Vec<u64> = (0..4).map(|n| b.for_attempt(n).as_secs()).collect();
        assert_eq!(budgets, [5, 10, 20, 20]);
        assert_eq!((b.pause_before(1).as_secs(), b.pause_before(3).as_secs()), (1, 4));
    }
}
