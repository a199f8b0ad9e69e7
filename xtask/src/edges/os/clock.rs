//! The one clock of records, evidence and the lock: UTC, to the second.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, to the second: records and the lock keep times as chrono's serde writes them, which is then exactly
/// `2026-05-13T18:00:00Z` (a fraction of a second would add digits to bytes the lock's digest covers).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `2026-05-13T18:00:00Z`: a time as records, evidence and the lock write it.
pub fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time as it starts a file name: `2026-05-13T180000Z` (no `:`, which some file systems refuse).
pub fn file_stamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H%M%SZ").to_string()
}
