//! The one clock of records, evidence and the lock: UTC, to the second.

/// `2026-05-13T18:00:00Z`.
pub fn utc_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time as it starts a file name: `2026-05-13T180000Z` (no `:`, which some file systems refuse).
pub fn file_stamp(utc: &str) -> String {
    utc.replace(':', "")
}
