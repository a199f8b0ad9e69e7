//! Swaps found in statements, evidence judged for each gap, windows and rollback declarations parsed.

use super::*;
use crate::domain::history::identity::Place;
use crate::domain::lint::sql::{LintSettings, analyze};

fn m(file: &str) -> Migration {
    Migration::with_sql(file, "")
}

fn swaps_of(files: &[(&str, &str)]) -> Vec<(String, String, String, u32)> {
    let ms: Vec<Migration> = files.iter().map(|(f, _)| m(f)).collect();
    let analyses: Vec<Analysis> =
        files.iter().map(|(_, sql)| analyze(sql, &LintSettings { squawk_rules: &[] })).collect();
    let pairs: Vec<(&Migration, &Analysis)> = ms.iter().zip(&analyses).collect();
    swaps(&pairs).into_iter().map(|s| (s.file, s.source, s.shadow, s.pos.line)).collect()
}

#[test]
fn a_shadow_renamed_into_a_vacated_name_is_a_swap_and_a_directive_names_one() {
    let example = include_str!("../../../../../examples/partition/20260615090000_audit_log_partition_cutover.sql");
    assert_eq!(
        swaps_of(&[("20260615090000_cutover.sql", example)]),
        vec![(
            "migrations/20260615090000_cutover.sql".into(),
            "public.audit_log".into(),
            "public.audit_log_p".into(),
            13
        )]
    );
    // Across files of one batch, in another schema, and named by hand where an ATTACH does the work.
    let found = swaps_of(&[
        ("1_a.sql", "alter table app.events rename to events_old;\n"),
        ("2_b.sql", "alter table app.events_p rename to events;\n"),
        (
            "3_c.sql",
            "-- xtask: partition-cutover public.t public.t_p\nalter table t_p attach partition t_old for values from (1) to (2);\n",
        ),
    ]);
    assert_eq!(
        found,
        vec![
            ("migrations/2_b.sql".into(), "app.events".into(), "app.events_p".into(), 1),
            ("migrations/3_c.sql".into(), "public.t".into(), "public.t_p".into(), 1),
        ]
    );
    // A plain rename is no swap.
    assert!(swaps_of(&[("1_a.sql", "alter table a rename to b;\n")]).is_empty());
}

fn identity(host: &str) -> Identity {
    Identity {
        place: Place::Server { host: host.into(), port: 5432, database: "postgres".into() },
        live: Some("7000 / 5".into()),
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn evidence(path: &str, taken: &str, passed: bool, who: Option<Identity>) -> EvidenceFile {
    EvidenceFile {
        path: path.into(),
        sha256: format!("sha-{path}"),
        doc: ParityDoc {
            kind: "parity".into(),
            snapshot_time: taken.into(),
            identity: who,
            source: "public.audit_log".into(),
            shadow: "public.audit_log_p".into(),
            time_column: "at".into(),
            passed,
        },
        taken_at: at(taken),
    }
}

#[test]
fn the_newest_evidence_about_this_database_decides() {
    let swap = Swap {
        file: "f".into(),
        pos: Pos::default(),
        source: "public.audit_log".into(),
        shadow: "public.audit_log_p".into(),
    };
    let prod = identity("prod");
    let phase_one = BTreeMap::from([("public.audit_log_p".to_string(), at("2026-06-01T10:00:00Z"))]);
    let judge = Judge {
        identity: Some(&prod),
        now: at("2026-06-15T09:00:00Z"),
        max_age: chrono::Duration::hours(24),
        phase_one: &phase_one,
    };
    let gap = |files: &[EvidenceFile]| judge.judge(&swap, files).err();
    assert_eq!(gap(&[]), Some(Gap::Missing));
    assert_eq!(
        gap(&[evidence("dev.json", "2026-06-15T08:00:00Z", true, Some(identity("dev")))]),
        Some(Gap::OtherDatabase {
            path: "dev.json".into(),
            identity: "database dev:5432/postgres (server 7000 / 5)".into()
        })
    );
    assert_eq!(
        gap(&[evidence("old.json", "2026-06-15T08:00:00Z", true, None)]),
        Some(Gap::OtherDatabase { path: "old.json".into(), identity: "(no identity)".into() })
    );
    let passing = evidence("ok.json", "2026-06-15T08:00:00Z", true, Some(prod.clone()));
    let failing_later = evidence("bad.json", "2026-06-15T08:30:00Z", false, Some(prod.clone()));
    assert_eq!(gap(&[passing.clone(), failing_later]), Some(Gap::Failing { path: "bad.json".into() }));
    assert_eq!(
        gap(&[evidence("early.json", "2026-06-01T09:00:00Z", true, Some(prod.clone()))]),
        Some(Gap::BeforePhaseOne { path: "early.json".into(), phase_one: "2026-06-01T10:00:00Z".into() })
    );
    assert_eq!(
        gap(&[evidence("stale.json", "2026-06-14T07:59:00Z", true, Some(prod.clone()))]),
        Some(Gap::Stale { path: "stale.json".into(), age: "25h 1m".into(), max: "24h 0m".into() })
    );
    let linked = judge.judge(&swap, &[passing]).unwrap();
    assert_eq!((linked.path.as_str(), linked.sha256.as_str()), ("ok.json", "sha-ok.json"));
}

#[test]
fn windows_are_days_and_utc_times() {
    let w = Window::parse("sat,sun 02:00-04:00").unwrap();
    assert!(w.contains(at("2026-06-13T02:00:00Z")), "a Saturday at the start");
    assert!(!w.contains(at("2026-06-13T04:00:00Z")), "the end is not in it");
    assert!(!w.contains(at("2026-06-15T03:00:00Z")), "a Monday");
    assert!(Window::parse("daily 22:00-23:30").unwrap().contains(at("2026-06-15T22:10:00Z")));
    assert!(Window::parse("daily 23:00-01:00").unwrap_err().contains("split one across midnight"));
    assert!(Window::parse("weekends 02:00-04:00").unwrap_err().contains("is not a window like"));
    assert!(Window::parse("sat 2am-4am").is_err());
}

#[test]
fn a_rollback_is_a_file_under_rollback_or_sql() {
    assert_eq!(Rollback::parse("rollback/1_x.sql"), Ok(Rollback::File("rollback/1_x.sql".into())));
    assert_eq!(Rollback::parse("alter table a rename to b;"), Ok(Rollback::Sql("alter table a rename to b;".into())));
    assert!(Rollback::parse("../x.sql").unwrap_err().contains("rollback/ folder"));
    assert!(Rollback::parse("rollback/../../x.sql").is_err());
}

#[test]
fn the_shadow_comes_from_the_file_that_creates_it_with_its_time_column() {
    let phase_one = include_str!("../../../../../examples/partition/20260601090000_audit_log_partition_shadow.sql");
    let files = [("1_core.sql", "create table public.audit_log (id bigint);"), ("2_shadow.sql", phase_one)];
    assert_eq!(shadow_origin(&files, "public.audit_log_p"), Some(("2_shadow.sql", Some("at".to_string()))));
    assert_eq!(shadow_origin(&files, "public.audit_log_q"), None);
    let by_expression = [("1_x.sql", "create table t_p (a date) partition by range (date_trunc('day', a));")];
    assert_eq!(shadow_origin(&by_expression, "public.t_p"), Some(("1_x.sql", None)));
}
