//! Parity's one-pass reads, decided over the windows' bounds. Every window bound (partition bounds, the recent
//! and overlap windows' ends) cuts the time column into buckets; a CASE tree of comparisons puts each row in its
//! bucket, and the bucket's count, sampled count and sum of sampled row hashes go into decimal digit slots of one
//! `numeric` sum. So a scan of any relation is a single plain aggregate, with no grouping and no row read twice,
//! and each window's figures are the sums of the buckets it covers (`Sums`). Also: which buckets each window
//! covers, the source cut into slices by page, and the scans shared by two sessions.

use std::ops::Range;

use anyhow::{Context, bail};

use crate::domain::partition::compare::Summary;
use crate::domain::partition::windows::{Window, WindowKind};

/// Where a bucket's figures sit in its 80 digits: count, sampled count (20 each: more than i64 holds), and the
/// sum of sampled row hashes (the first 64 bits of each row's SHA-256) shifted to unsigned (40: each is below 2^64,
/// so 10^20 rows cannot overflow it).
const COUNT: (usize, usize) = (0, 20);
const SAMPLED: (usize, usize) = (20, 20);
const HASHES: (usize, usize) = (40, 40);
const BUCKET_DIGITS: usize = 80;

/// Buckets per `numeric` sum: 480 x 80 digits stays under the 131,072 digits a `numeric` may hold before its
/// point. More buckets (daily partitions over years) take one more sum per 480, each filtered to its buckets.
pub const GROUP: usize = 480;

/// The sorted, distinct bounds (as Postgres prints them), and how many buckets one sum holds. Bucket 0 is below
/// the first bound, bucket `k` is `[bounds[k-1], bounds[k])`, bucket `m` is from the last bound on, and bucket
/// `m + 1` holds the rows whose time is NULL.
#[derive(Debug, Clone)]
pub struct Layout {
    pub bounds: Vec<String>,
    pub ty: String,
    pub group: usize,
}

/// The buckets a relation's rows can fall in: a range of time buckets and, perhaps, the NULL bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub nulls: bool,
}

/// The SQL a scan's tree is made of: the time column, the sample test, and the row hash.
pub struct Exprs<'a> {
    pub column: &'a str,
    pub sampled: &'a str,
    pub row_hash: &'a str,
}

impl Layout {
    fn m(&self) -> usize {
        self.bounds.len()
    }

    pub fn buckets(&self) -> usize {
        self.m() + 2
    }

    fn null_bucket(&self) -> usize {
        self.m() + 1
    }

    /// The buckets between two bound ranks (1-based positions in `bounds`; `None` is an open end).
    pub fn between(&self, from: Option<usize>, to: Option<usize>) -> Range<usize> {
        from.unwrap_or(0)..to.unwrap_or(self.m() + 1)
    }

    /// Every bucket: what a relation with no known range (the source, a default partition) may hold.
    pub fn everything(&self) -> Span {
        Span { range: 0..self.m() + 1, nulls: true }
    }

    fn bound(&self, rank: usize) -> String {
        format!("{}::{}", postgres_protocol::escape::escape_literal(&self.bounds[rank]), self.ty)
    }

    /// One aggregate over `from` (rows restricted by `filter`): per group of buckets the span touches, a sum of
    /// the rows' counts and a sum over the sampled rows. Returns the SQL and each column's group, for `decode`.
    pub fn packed_sql(&self, span: &Span, e: &Exprs, from: &str, filter: Option<&str>) -> (String, Vec<usize>) {
        let parts: Vec<(usize, Span)> =
            (0..=self.null_bucket() / self.group).filter_map(|g| self.in_group(span, g).map(|s| (g, s))).collect();
        let mut columns = Vec::new();
        let mut groups = Vec::new();
        for (g, part) in &parts {
            let only = (parts.len() > 1).then(|| self.rows_of(part, e.column));
            columns.push(self.counts(*g, part, only.as_deref(), e));
            columns.push(self.samples(*g, part, only.as_deref(), e));
            groups.extend([*g, *g]);
        }
        let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
        let sql = format!("select {} from {from}{filter}", columns.join(", "));
        (sql, groups)
    }

    /// Every row counts in its bucket (`only`: the rows of this group); a range partition's rows, all in one
    /// bucket, are just counted.
    fn counts(&self, g: usize, part: &Span, only: Option<&str>, e: &Exprs) -> String {
        let leaf = |k: usize| leaf(k - g * self.group, false, e.row_hash);
        if let (1, false, None) = (part.range.len(), part.nulls, only) {
            return format!("(count(*) * {})::text", leaf(part.range.start));
        }
        let only = only.map(|o| format!(" filter (where {o})")).unwrap_or_default();
        format!("coalesce(sum({}){only}, 0)::text", self.tree(part, e.column, &leaf))
    }

    /// Only a sampled row walks the tree again, for its sampled count and row hash.
    fn samples(&self, g: usize, part: &Span, only: Option<&str>, e: &Exprs) -> String {
        let leaf = |k: usize| leaf(k - g * self.group, true, e.row_hash);
        let tests: Vec<&str> = [Some(e.sampled).filter(|s| *s != "true"), only].into_iter().flatten().collect();
        let filter = match tests.is_empty() {
            true => String::new(),
            false => format!(" filter (where {})", tests.join(" and ")),
        };
        format!("coalesce(sum({}){filter}, 0)::text", self.tree(part, e.column, &leaf))
    }

    /// The part of `span` in group `g`, if any.
    fn in_group(&self, span: &Span, g: usize) -> Option<Span> {
        let group = g * self.group..(g + 1) * self.group;
        let range = span.range.start.max(group.start)..span.range.end.min(group.end);
        let nulls = span.nulls && group.contains(&self.null_bucket());
        let range = if range.is_empty() { 0..0 } else { range };
        (!range.is_empty() || nulls).then_some(Span { range, nulls })
    }

    /// A CASE tree of `column < bound` tests, about log2(buckets) deep, whose leaves are the buckets' values.
    fn tree(&self, span: &Span, column: &str, leaf: &dyn Fn(usize) -> String) -> String {
        let times = (!span.range.is_empty()).then(|| self.split(span.range.start, span.range.end - 1, column, leaf));
        match (span.nulls, times) {
            (true, Some(t)) => format!("case when {column} is null then {} else {t} end", leaf(self.null_bucket())),
            (true, None) => leaf(self.null_bucket()),
            (false, Some(t)) => t,
            (false, None) => "0".to_string(),
        }
    }

    fn split(&self, lo: usize, hi: usize, column: &str, leaf: &dyn Fn(usize) -> String) -> String {
        if lo == hi {
            return leaf(lo);
        }
        let mid = (lo + hi).div_ceil(2);
        let (below, above) = (self.split(lo, mid - 1, column, leaf), self.split(mid, hi, column, leaf));
        format!("case when {column} < {} then {below} else {above} end", self.bound(mid - 1))
    }

    /// SQL true for exactly the rows of `part`'s buckets: used when one relation's rows spread over two sums.
    fn rows_of(&self, part: &Span, column: &str) -> String {
        let mut any = Vec::new();
        if !part.range.is_empty() {
            let mut all = vec![format!("{column} is not null")];
            if part.range.start > 0 {
                all.push(format!("{column} >= {}", self.bound(part.range.start - 1)));
            }
            if part.range.end <= self.m() {
                all.push(format!("{column} < {}", self.bound(part.range.end - 1)));
            }
            any.push(format!("({})", all.join(" and ")));
        }
        if part.nulls {
            any.push(format!("{column} is null"));
        }
        format!("({})", any.join(" or "))
    }

    /// Add one scan's sums (as `packed_sql` laid them out) to `into`, one `Summary` per bucket.
    pub fn decode(&self, groups: &[usize], texts: &[String], into: &mut [Summary]) -> anyhow::Result<()> {
        for (&g, text) in groups.iter().zip(texts) {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                bail!("a packed sum `{text}` is not a whole non-negative number");
            }
            let first = g * self.group;
            for (local, s) in into.iter_mut().skip(first).take(self.group).enumerate() {
                let base = local * BUCKET_DIGITS;
                let count = digits(text, base + COUNT.0, COUNT.1);
                let sampled = digits(text, base + SAMPLED.0, SAMPLED.1);
                s.count += i64::try_from(value(count)).with_context(|| format!("a count `{count}`"))?;
                s.sampled += i64::try_from(value(sampled)).with_context(|| format!("a count `{sampled}`"))?;
                s.fingerprint = s.fingerprint.wrapping_add(value(digits(text, base + HASHES.0, HASHES.1)));
            }
        }
        Ok(())
    }
}

/// A bucket's value in a sum: in the count sum, 1 in its count slot (a constant: a one-digit number to add); in
/// the sample's sum, 1 in the sampled slot and the row hash (shifted to unsigned) in the hash slot.
fn leaf(local: usize, sampled: bool, row_hash: &str) -> String {
    let base = local * BUCKET_DIGITS;
    match sampled {
        false => format!("1e{}", base + COUNT.0),
        true => {
            format!("(1e{} + ({row_hash}::numeric + 9223372036854775808) * 1e{})", base + SAMPLED.0, base + HASHES.0)
        }
    }
}

/// The `len` digits that sit `from` digits from the right end of `text` (fewer where the number is shorter).
fn digits(text: &str, from: usize, len: usize) -> &str {
    let end = text.len().saturating_sub(from);
    &text[end.saturating_sub(len)..end]
}

/// A decimal number, kept modulo 2^128 (exact for the counts; the hash sums are compared modulo 2^128).
fn value(text: &str) -> u128 {
    text.bytes().fold(0u128, |acc, d| acc.wrapping_mul(10).wrapping_add(u128::from(d - b'0')))
}

/// The buckets each window covers, from each window's bound ranks: a range window its range; the default
/// partition (or the rows outside every partition) every bucket no partition covers, and the NULL bucket.
pub fn window_buckets(
    layout: &Layout,
    windows: &[Window],
    ranks: &[(Option<usize>, Option<usize>)],
) -> Vec<Vec<usize>> {
    let partitions: Vec<Range<usize>> = windows
        .iter()
        .zip(ranks)
        .filter(|(w, _)| w.kind == WindowKind::Partition)
        .map(|(_, &(from, to))| layout.between(from, to))
        .collect();
    windows
        .iter()
        .zip(ranks)
        .map(|(w, &(from, to))| match w.kind {
            WindowKind::Default | WindowKind::Outside => (0..layout.buckets())
                .filter(|k| *k == layout.null_bucket() || !partitions.iter().any(|p| p.contains(k)))
                .collect(),
            _ => layout.between(from, to).collect(),
        })
        .collect()
}

/// One summary per bucket and table, added up over the scans.
pub struct Sums {
    pub source: Vec<Summary>,
    pub shadow: Vec<Summary>,
}

impl Sums {
    pub fn add(&mut self, other: Sums) {
        for (mine, theirs) in [(&mut self.source, other.source), (&mut self.shadow, other.shadow)] {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// Each window's summary on (source, shadow): the sum of the buckets it covers.
    pub fn windows(&self, covers: &[Vec<usize>]) -> Vec<(Summary, Summary)> {
        let total = |side: &[Summary], buckets: &[usize]| {
            buckets.iter().fold(Summary::default(), |mut acc, &b| {
                acc += side[b];
                acc
            })
        };
        covers.iter().map(|b| (total(&self.source, b), total(&self.shadow, b))).collect()
    }
}

/// Page ranges that cut a relation of `pages` pages into slices of about `slice` pages; the first is open below
/// and the last open above, so a row on a page added since the count is still read.
pub fn page_slices(pages: u64, slice: u64) -> Vec<(Option<u64>, Option<u64>)> {
    let n = pages.div_ceil(slice.max(1)).clamp(1, 256);
    let step = pages.div_ceil(n).max(1);
    (0..n).map(|i| ((i > 0).then_some(i * step), (i + 1 < n).then_some((i + 1) * step))).collect()
}

/// The slice's predicate on `ctid` (a TID range scan reads only its pages).
pub fn page_filter((from, to): (Option<u64>, Option<u64>)) -> Option<String> {
    let parts: Vec<String> =
        [from.map(|f| format!("ctid >= '({f},0)'::tid")), to.map(|t| format!("ctid < '({t},0)'::tid"))]
            .into_iter()
            .flatten()
            .collect();
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// Scans shared by two sessions as they go: each takes the heaviest scan not yet taken, so both finish about
/// together whatever one session's speed (a static split left one idle for a tenth of the run).
pub struct Queue {
    order: Vec<usize>,
    next: std::sync::atomic::AtomicUsize,
}

impl Queue {
    pub fn heaviest_first(weights: &[u64]) -> Queue {
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
        Queue { order, next: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// The next scan to run, or `None` when every scan is taken.
    pub fn take(&self) -> Option<usize> {
        let at = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.order.get(at).copied()
    }
}

#[cfg(test)]
mod tests;
