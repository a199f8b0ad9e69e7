//! The comparison of two scans of one window, decided over their figures: counts within the threshold, the
//! sampled rows equal both ways (through the sums, keys listed only where the sums differ).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;
use crate::domain::partition::windows::{Window, WindowKind};

/// Mismatching keys listed per window and kind; the totals are always complete.
pub const LISTED: usize = 20;

/// One aggregate pass over a window of one table: its count, how many rows the key hash sampled, and the sum
/// of those rows' SHA-256 digests' first 64 bits, each taken as unsigned (exact: Postgres sums into `numeric`). Equal sums over equal counts
/// mean the same sampled rows with the same text, in both directions, without moving a row to the client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: i64,
    pub sampled: i64,
    pub fingerprint: u128,
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, other: Summary) {
        self.count += other.count;
        self.sampled += other.sampled;
        self.fingerprint = self.fingerprint.wrapping_add(other.fingerprint);
    }
}

/// The sampled rows of a window whose sums differ, read to name the keys: key -> (key hash, row SHA-256).
#[derive(Debug, Default)]
pub struct Sample {
    pub rows: BTreeMap<String, (i64, String)>,
}

/// The key hash below which a row is sampled: `pct` percent of the signed 64-bit range, so the same seed picks
/// the same rows on both tables. `None` samples every row.
pub fn sample_threshold(pct: f64) -> Option<i64> {
    // In whole millionths of a percent, so the threshold is exact integer arithmetic, not f64 rounding.
    let millionths = (pct * 1_000_000.0).round() as i128;
    let span = (1i128 << 64) * millionths / 100_000_000;
    let threshold = i64::MIN as i128 + span;
    (threshold <= i64::MAX as i128).then_some(threshold as i64)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowResult {
    #[serde(flatten)]
    pub window: Option<Window>,
    pub source_rows: i64,
    pub shadow_rows: i64,
    pub variance: i64,
    pub allowed_variance: f64,
    pub counts_ok: bool,
    pub sampled_source: i64,
    pub sampled_shadow: i64,
    /// Every sampled row is compared (through the sums); the keys are listed only when the sums differ.
    pub samples_match: bool,
    pub compared: i64,
    pub only_in_source: Vec<String>,
    pub only_in_shadow: Vec<String>,
    pub differing: Vec<String>,
    /// Mismatching keys found among the listed rows (at most `sample_cap` per direction).
    pub mismatches: usize,
    /// SHA-256 of the source sample's count and sum: equal inputs give an equal sample.
    pub sample_digest: String,
    pub passed: bool,
}

pub struct Thresholds {
    pub pct: f64,
    pub rows: i64,
    pub cap: usize,
}

/// Counts within max(pct of the source's count, rows), and the samples equal in both directions. `detail`, the
/// sampled rows read only for a window whose sums differ, names the mismatching keys.
pub fn judge(source: Summary, shadow: Summary, t: &Thresholds, detail: Option<(&Sample, &Sample)>) -> WindowResult {
    let mut r = WindowResult {
        source_rows: source.count,
        shadow_rows: shadow.count,
        variance: shadow.count - source.count,
        sampled_source: source.sampled,
        sampled_shadow: shadow.sampled,
        samples_match: source.sampled == shadow.sampled && source.fingerprint == shadow.fingerprint,
        ..Default::default()
    };
    r.allowed_variance = (source.count as f64 * t.pct / 100.0).max(t.rows as f64);
    r.counts_ok = (r.variance.abs() as f64) <= r.allowed_variance;
    r.sample_digest = migrations::hex(&Sha256::digest(format!("{}:{}", source.sampled, source.fingerprint)));
    r.compared = source.sampled;
    if let (false, Some((s, h))) = (r.samples_match, detail) {
        list_mismatches(&mut r, s, h, t.cap);
    }
    r.passed = r.counts_ok && r.samples_match;
    r
}

/// One window judged (`judge`), the window kept in its result; the rows outside every partition get no variance.
pub fn judge_window(
    window: &Window,
    (source, shadow): (Summary, Summary),
    t: &Thresholds,
    detail: Option<(&Sample, &Sample)>,
) -> WindowResult {
    let mut r = judge(source, shadow, t, detail);
    if window.kind == WindowKind::Outside {
        r.allow_no_variance();
    }
    r.window = Some(window.clone());
    r
}

impl WindowResult {
    /// No row may differ at all: for the rows outside every partition, which the shadow can never hold, any
    /// count is a defect, not replication lag.
    pub fn allow_no_variance(&mut self) {
        self.allowed_variance = 0.0;
        self.counts_ok = self.variance == 0;
        self.passed = self.counts_ok && self.samples_match;
    }
}

/// The sampled rows with the lowest key hashes, at most `cap`: the same keys on every run.
fn capped(sample: &Sample, cap: usize) -> Vec<(&String, &(i64, String))> {
    let mut v: Vec<(&String, &(i64, String))> = sample.rows.iter().collect();
    v.sort_by(|a, b| (a.1.0, a.0).cmp(&(b.1.0, b.0)));
    v.truncate(cap);
    v
}

/// Keys only in one sample or with a differing row hash, both directions, the first `LISTED` of each kind.
fn list_mismatches(r: &mut WindowResult, source: &Sample, shadow: &Sample, cap: usize) {
    let (s, h) = (capped(source, cap), capped(shadow, cap));
    let mut compared = 0;
    for (key, (_, hash)) in &s {
        match shadow.rows.get(*key) {
            None => r.only_in_source.push((*key).clone()),
            Some((_, other)) if other != hash => r.differing.push((*key).clone()),
            Some(_) => compared += 1,
        }
    }
    for (key, _) in &h {
        if !source.rows.contains_key(*key) {
            r.only_in_shadow.push((*key).clone());
        }
    }
    r.compared = (compared + r.differing.len()) as i64;
    r.mismatches = r.only_in_source.len() + r.only_in_shadow.len() + r.differing.len();
    for list in [&mut r.only_in_source, &mut r.only_in_shadow, &mut r.differing] {
        list.truncate(LISTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(count: i64, sampled: i64, fingerprint: u128) -> Summary {
        Summary { count, sampled, fingerprint }
    }

    fn sample(rows: &[(&str, i64, &str)]) -> Sample {
        Sample { rows: rows.iter().map(|(k, h, r)| (k.to_string(), (*h, r.to_string()))).collect() }
    }

    #[test]
    fn compare_counts_at_and_past_the_threshold() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let judge_counts = |s, h| judge(summary(s, 0, 0), summary(h, 0, 0), &t, None);
        assert!(judge_counts(1000, 900).passed, "exactly 100 rows apart");
        assert!(!judge_counts(1000, 899).passed, "101 rows apart");
        let big = judge_counts(1_000_000, 999_000);
        assert!(big.passed && big.allowed_variance == 1000.0, "0.1% of a million is 1000");
    }

    #[test]
    fn equal_sums_pass_without_reading_rows_and_differing_sums_list_the_keys() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let same = judge(summary(10, 3, 77), summary(10, 3, 77), &t, None);
        assert!(same.passed && same.samples_match && same.compared == 3 && same.mismatches == 0);
        let source = sample(&[("(1)", 5, "a"), ("(2)", 3, "b"), ("(3)", 9, "c")]);
        let shadow = sample(&[("(1)", 5, "a"), ("(2)", 3, "B"), ("(4)", 1, "d")]);
        let r = judge(summary(10, 3, 77), summary(10, 3, 78), &t, Some((&source, &shadow)));
        assert_eq!(
            (r.only_in_source.clone(), r.only_in_shadow.clone(), r.differing.clone()),
            (vec!["(3)".to_string()], vec!["(4)".to_string()], vec!["(2)".to_string()])
        );
        assert_eq!((r.mismatches, r.samples_match, r.passed), (3, false, false));
        let capped =
            judge(summary(10, 3, 77), summary(10, 3, 78), &Thresholds { cap: 1, ..t }, Some((&source, &shadow)));
        assert_eq!(capped.differing, ["(2)"], "the lowest key hash only: (2)");
        assert_eq!(capped.sampled_source, 3, "the sampled count is the whole sample's");
    }

    #[test]
    fn a_difference_beyond_the_listing_cap_still_fails() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 1 };
        let (source, shadow) =
            (sample(&[("(1)", 1, "a"), ("(2)", 2, "b")]), sample(&[("(1)", 1, "a"), ("(2)", 2, "B")]));
        let r = judge(summary(2, 2, 5), summary(2, 2, 6), &t, Some((&source, &shadow)));
        assert_eq!((r.mismatches, r.passed), (0, false));
    }

    #[test]
    fn sample_thresholds() {
        assert_eq!(sample_threshold(100.0), None);
        assert_eq!(sample_threshold(50.0), Some(0));
        assert_eq!(sample_threshold(1.0), Some(-9_038_904_596_117_680_292));
    }

    #[test]
    fn the_rows_outside_every_partition_get_no_variance() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let window = |kind| Window { name: "w".into(), kind, from: None, to: None, excluded: vec![], relation: None };
        let sums = (summary(1000, 0, 0), summary(999, 0, 0));
        let default = judge_window(&window(WindowKind::Default), sums, &t, None);
        assert!(default.passed && default.window.is_some(), "a default partition lags like any window");
        let outside = judge_window(&window(WindowKind::Outside), sums, &t, None);
        assert_eq!((outside.allowed_variance, outside.passed), (0.0, false), "the shadow can hold none of these");
    }
}
