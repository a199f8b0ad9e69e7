//! The bucket layout against hand-made sums (the same layout against a plain GROUP BY on a real server is a test of
//! `partition::scan`, which reads).

use expect_test::expect;

use super::*;

fn layout(bounds: &[&str], group: usize) -> Layout {
    Layout { bounds: bounds.iter().map(|b| b.to_string()).collect(), ty: "date".to_string(), group }
}

fn exprs<'a>(sampled: &'a str) -> Exprs<'a> {
    Exprs { column: "t", sampled, row_hash: "h" }
}

#[test]
fn the_tree_tests_each_bound_once_per_level_and_a_relation_over_two_sums_is_filtered() {
    let l = layout(&["2026-01-01", "2026-02-01", "2026-03-01"], GROUP);
    let (sql, groups) = l.packed_sql(&l.everything(), &exprs("true"), "public.e", Some("ctid >= '(8,0)'::tid"));
    assert_eq!(groups, [0, 0], "the counts' sum and the sample's");
    expect!["select coalesce(sum(case when t is null then 1e320 else case when t < '2026-02-01'::date then case when t < '2026-01-01'::date then 1e0 else 1e80 end else case when t < '2026-03-01'::date then 1e160 else 1e240 end end end), 0)::text, coalesce(sum(case when t is null then (1e340 + (h::numeric + 9223372036854775808) * 1e360) else case when t < '2026-02-01'::date then case when t < '2026-01-01'::date then (1e20 + (h::numeric + 9223372036854775808) * 1e40) else (1e100 + (h::numeric + 9223372036854775808) * 1e120) end else case when t < '2026-03-01'::date then (1e180 + (h::numeric + 9223372036854775808) * 1e200) else (1e260 + (h::numeric + 9223372036854775808) * 1e280) end end end), 0)::text from public.e where ctid >= '(8,0)'::tid"]
        .assert_eq(&sql);
    // A partition inside one bucket is counted: no comparison at all, and the sample's sum reads 1% of its rows.
    let (sql, _) = l.packed_sql(&Span { range: 2..3, nulls: false }, &exprs("s"), "public.p", None);
    expect!["select (count(*) * 1e160)::text, coalesce(sum((1e180 + (h::numeric + 9223372036854775808) * 1e200)) filter (where s), 0)::text from public.p"].assert_eq(&sql);
    let small = layout(&["a", "b", "c"], 2);
    let (sql, groups) = small.packed_sql(&small.everything(), &exprs("true"), "x", None);
    assert_eq!(groups, [0, 0, 1, 1, 2, 2]);
    assert!(sql.contains("filter (where ((t is not null and t < 'b'::date)))"), "{sql}");
    assert!(sql.contains("filter (where ((t is not null and t >= 'b'::date)))"), "{sql}");
    assert!(sql.contains("filter (where (t is null))"), "{sql}");
}

#[test]
fn decoding_reads_each_buckets_slots_and_adds_them_up() {
    let l = layout(&["a"], GROUP);
    // Bucket 0: 3 rows, 1 sampled, hash sum 42; bucket 1: nothing; bucket 2 (NULL): 7 rows.
    let mut text = format!("{:0>80}", 7);
    text.push_str(&"0".repeat(80));
    text.push_str(&format!("{:0>40}{:0>20}{:0>20}", 42, 1, 3));
    let mut into = vec![Summary::default(); l.buckets()];
    l.decode(&[0], &[text.clone()], &mut into).unwrap();
    l.decode(&[0], &["5".to_string()], &mut into).unwrap();
    assert_eq!(into[0], Summary { count: 8, sampled: 1, fingerprint: 42 });
    assert_eq!(into[1], Summary::default());
    assert_eq!(into[2].count, 7);
    assert!(l.decode(&[0], &["-1".to_string()], &mut into).is_err());
    let huge = format!("{}{}", "9".repeat(40), "0".repeat(40));
    l.decode(&[0], &[huge], &mut into).unwrap();
    assert_eq!(into[0].fingerprint, 42u128.wrapping_add(value(&"9".repeat(40))), "hash sums wrap at 2^128");
}

#[test]
fn windows_cover_their_buckets_and_the_default_the_rest() {
    let l = layout(&["jan", "feb", "mar", "recent"], GROUP);
    let w = |kind| Window { name: String::new(), kind, from: None, to: None, excluded: vec![], relation: None };
    let windows = [w(WindowKind::Partition), w(WindowKind::Partition), w(WindowKind::Default), w(WindowKind::Recent)];
    let ranks = [(Some(1), Some(2)), (Some(2), Some(3)), (None, None), (Some(4), None)];
    let covered = window_buckets(&l, &windows, &ranks);
    assert_eq!(covered, vec![vec![1], vec![2], vec![0, 3, 4, 5], vec![4]]);
}

#[test]
fn slices_cover_every_page_and_the_queue_hands_out_the_heaviest_first() {
    assert_eq!(page_slices(0, 10), [(None, None)]);
    assert_eq!(page_slices(25, 10), [(None, Some(9)), (Some(9), Some(18)), (Some(18), None)]);
    assert_eq!(page_filter((None, None)), None);
    assert_eq!(page_filter((Some(9), Some(18))).unwrap(), "ctid >= '(9,0)'::tid and ctid < '(18,0)'::tid");
    let queue = Queue::heaviest_first(&[5, 9, 4, 1]);
    assert_eq!(std::iter::from_fn(|| queue.take()).collect::<Vec<_>>(), [1, 0, 2, 3]);
    assert_eq!(queue.take(), None, "and stays empty");
}
