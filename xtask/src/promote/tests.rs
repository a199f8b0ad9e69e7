//! The pure parts of `promote`: reconciling histories, splitting the outcome, the gates' judgements, the review
//! and the report in every format.

use std::collections::BTreeSet;

use expect_test::expect;

use super::gates::{dry_run_mismatch, split_blocking, target_mismatch};
use super::record::{Failure, Outcome, PromoteReport, Record, RecordFile};
use crate::domain::findings::{Code, Finding, Pos, Severity};
use crate::domain::history::migrations::{Migration, MigrationFile};
use crate::edges::output::report::Format;
use crate::edges::output::report::render;
use crate::edges::supabase::cli::Remote;
use crate::edges::target::history::{Applied, Known, Mismatch, Reconcile, outcome, reconcile};

fn m(version: &str) -> Migration {
    Migration::new(
        MigrationFile {
            version: version.into(),
            name: format!("m{version}"),
            file_name: format!("{version}_m.sql"),
            rel_path: format!("migrations/{version}_m.sql"),
            path: Default::default(),
        },
        Vec::new(),
    )
}

fn live(versions: &[&str]) -> Vec<Applied> {
    versions.iter().map(|v| Applied { version: v.to_string(), name: String::new(), fingerprint: None }).collect()
}

fn known(recorded: bool, ours: bool) -> Known<impl Fn(&Migration) -> bool, impl Fn(&Migration) -> bool> {
    Known { recorded: move |_: &Migration| recorded, pushed_by_us: move |_: &Migration| ours }
}

#[test]
fn reconcile_accepts_sync_and_interrupted_prefixes_only() {
    let files = [m("1"), m("2"), m("3"), m("4")];
    let pending: Vec<&Migration> = files[2..].iter().collect();
    assert_eq!(
        reconcile("prod", (&files, Some("2")), &live(&["1", "2"]), &pending, known(true, true)),
        Ok(Reconcile::InSync)
    );
    assert_eq!(
        reconcile("prod", (&files, Some("2")), &live(&["1", "2", "3"]), &pending, known(true, true)),
        Ok(Reconcile::Interrupted(1))
    );
    let err = reconcile("prod", (&files, Some("2")), &live(&["1", "2", "4"]), &pending, known(true, true)).unwrap_err();
    assert_eq!(err, Mismatch::Ahead { head: Some("2".into()), versions: vec!["4".into()] });
    let err = err.to_string();
    assert!(err.contains("ahead of the recorded head 2 by 4"), "{err}");
    let err = reconcile("prod", (&files, Some("2")), &live(&["1", "2", "9"]), &pending, known(true, true)).unwrap_err();
    assert_eq!(err, Mismatch::Unknown { versions: vec!["9".into()] });
    let err = err.to_string();
    assert!(err.starts_with("the target has migration(s) 9 that no file here has"), "{err}");
    let err = reconcile("prod", (&files, Some("2")), &live(&["2"]), &pending, known(true, true)).unwrap_err();
    assert_eq!(err, Mismatch::Missing { files: vec!["1_m.sql".into()], head: "2".into() });
    let err = err.to_string();
    assert!(err.starts_with("1_m.sql recorded as applied"), "{err}");
    // Never recorded anywhere: not a wrong database, a file out of order, with the command that fixes it.
    let err = reconcile("prod", (&files, Some("2")), &live(&["2"]), &pending, known(false, true)).unwrap_err();
    assert_eq!(err, Mismatch::OutOfOrder { files: vec!["1_m.sql".into()], head: "2".into() });
    let err = err.to_string();
    assert!(err.starts_with("1_m.sql sorts before the target's head 2 but was never applied (out-of-order"), "{err}");
    assert!(err.ends_with("keeping its name and SQL: `cargo xtask fix --renumber`"), "{err}");
    // The next pending file is on the target, but no record of ours pushed it: another tool's, named.
    let err =
        reconcile("prod", (&files, Some("2")), &live(&["1", "2", "3"]), &pending, known(true, false)).unwrap_err();
    assert_eq!(err, Mismatch::Unrecorded { target: "prod".into(), applied: vec![("3".into(), "m3".into())] });
    expect!["3 `m3` is on prod but no promotion recorded it (applied by another tool: the dashboard, the SQL editor, an assistant's apply_migration, the platform's GitHub integration?): `cargo xtask reconcile --target prod` compares what ran with the files and records it"].assert_eq(&err.to_string());
}

#[test]
fn outcome_splits_the_batch_at_the_first_unapplied_file() {
    let files = [m("3"), m("4"), m("5")];
    let batch: Vec<&Migration> = files.iter().collect();
    let live: BTreeSet<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
    let (applied, failed, rest) = outcome(&batch, &live);
    assert_eq!((applied.len(), failed.map(|m| m.version.as_str()), rest.len()), (1, Some("4"), 1));
}

#[test]
fn dry_run_list_must_equal_the_batch() {
    let files = [m("3"), m("4")];
    let batch: Vec<&Migration> = files.iter().collect();
    assert_eq!(dry_run_mismatch(&batch, &["3_m.sql".into(), "4_m.sql".into()]), None);
    assert_eq!(
        dry_run_mismatch(&batch, &["4_m.sql".into()]),
        Some("the CLI's dry-run would push [4_m.sql], but the reviewed batch is [3_m.sql, 4_m.sql]".into())
    );
    assert!(dry_run_mismatch(&batch, &["4_m.sql".into(), "3_m.sql".into()]).is_some(), "order matters");
}

fn reported(json: serde_json::Value) -> crate::edges::supabase::cli::ReportedTarget {
    serde_json::from_value(json).unwrap()
}

#[test]
fn target_mismatch_compares_host_port_and_project() {
    let url = Remote::Url("postgresql://u:p@127.0.0.1:5433/db".into());
    assert_eq!(
        target_mismatch(&url, Some(&reported(serde_json::json!({"kind":"db-url","host":"127.0.0.1","port":5433})))),
        None
    );
    assert!(
        target_mismatch(&url, Some(&reported(serde_json::json!({"kind":"db-url","host":"127.0.0.1","port":54322}))))
            .is_some()
    );
    let project = Remote::Project("srcaoozjkrughebmbvfb".into());
    assert_eq!(
        target_mismatch(
            &project,
            Some(&reported(serde_json::json!({"kind":"linked","project_ref":"srcaoozjkrughebmbvfb"})))
        ),
        None
    );
    assert!(
        target_mismatch(
            &project,
            Some(&reported(serde_json::json!({"kind":"linked","project_ref":"aaaaaaaaaaaaaaaaaaaa"})))
        )
        .is_some()
    );
    // Fails closed: no target, no host, no project ref are mismatches.
    assert_eq!(target_mismatch(&url, None).unwrap(), "no target at all (the CLI reported none)");
    assert!(target_mismatch(&url, Some(&reported(serde_json::json!({"kind":"db-url","port":5433})))).is_some());
    assert!(target_mismatch(&project, Some(&reported(serde_json::json!({"kind":"linked"})))).is_some());
    assert!(target_mismatch(&project, None).is_some());
}

#[test]
fn the_check_gate_judges_the_batch_and_tree_not_files_beyond_until() {
    let finding = |code, file: &str| Finding::new(code, Severity::Error, file, "x");
    let findings = vec![
        finding(Code::Destructive, "migrations/3_m.sql"),
        finding(Code::Destructive, "migrations/5_m.sql"),
        finding(Code::AppliedModified, "migrations/1_m.sql"),
        finding(Code::PartitionPhaseMix, "migrations/3_m.sql"),
        Finding::new(Code::Destructive, Severity::Warning, "migrations/3_m.sql", "x"),
    ];
    let (blocking, beyond) = split_blocking(&findings, &[&m("5")]);
    let files = |v: &[Finding]| v.iter().map(|f| format!("{}:{}", f.code, f.file)).collect::<Vec<_>>();
    assert_eq!(files(&blocking), ["destructive:migrations/3_m.sql", "applied-modified:migrations/1_m.sql"]);
    assert_eq!(files(&beyond), ["destructive:migrations/5_m.sql"]);
}

fn sample_record() -> Record {
    Record {
        target: "prod".into(),
        endpoint: "project srcaoozjkrughebmbvfb".into(),
        connection: Some(crate::edges::postgres::pooler::Connection::PoolerSession),
        identity: Some("project srcaoozjkrughebmbvfb".into()),
        started_at: "2026-05-13T18:00:00Z".parse().unwrap(),
        cli_version: "3.1.0".into(),
        git_commit: Some("abc123".into()),
        head_before: Some("20260512220528".into()),
        head_after: Some("20260513041000".into()),
        outcome: Some(Outcome::Promoted),
        batch: vec![
            RecordFile { file: "20260512231500_a.sql".into(), sha256: "0123456789abcdef".into() },
            RecordFile { file: "20260513041000_b.sql".into(), sha256: "fedcba9876543210".into() },
        ],
        applied: vec!["20260512231500_a.sql".into(), "20260513041000_b.sql".into()],
        rehearsal: Some("passed on a local shadow (history + batch)".into()),
        findings: vec![
            Finding::new(
                Code::Destructive,
                Severity::Note,
                "migrations/20260513041000_b.sql",
                "`drop function f()` (acknowledged: unused)",
            )
            .at(Pos { line: 4, col: 1 }),
        ],
        dry_run: vec!["20260512231500_a.sql".into(), "20260513041000_b.sql".into()],
        timings_ms: vec![("push".into(), 812)],
        written: Some("docs/database/promotions/2026-05-13T180000Z-prod.md".into()),
        ..Default::default()
    }
}

#[test]
fn review_lists_the_batch_findings_cut_and_rehearsal() {
    let beyond = m("20260601090000");
    expect![[r#"
        Promotion of 2 migration(s) to prod (project srcaoozjkrughebmbvfb), after head 20260512220528:

          1. 20260512231500_a.sql
          2. 20260513041000_b.sql

        Connection: pooler (session).

        To review:
          note[destructive] migrations/20260513041000_b.sql:4: `drop function f()` (acknowledged: unused)

        Not in this promotion (after --until): 20260601090000_m.sql

        The CLI's dry-run (supabase 3.1.0) lists exactly these 2 file(s).
        Rehearsal: passed on a local shadow (history + batch).
    "#]]
    .assert_eq(&super::review::render(&sample_record(), "project srcaoozjkrughebmbvfb", &[&beyond]));
}

#[test]
fn promote_report_in_every_format() {
    let record = sample_record();
    let report = PromoteReport(&record);
    expect![[r#"

        Promoted 2 migration(s) to prod; head is now 20260513041000. Record: docs/database/promotions/2026-05-13T180000Z-prod.md
    "#]]
    .assert_eq(&render(&report, Format::Human));
    expect![[r#"
        ::notice file=migrations/20260513041000_b.sql,line=4,col=1,title=xtask check%3A destructive::`drop function f()` (acknowledged: unused)
        ::notice title=xtask promote::prod: promoted

        Promoted 2 migration(s) to prod; head is now 20260513041000. Record: docs/database/promotions/2026-05-13T180000Z-prod.md
    "#]]
    .assert_eq(&render(&report, Format::Github));
    expect![[r#"
        {
          "target": "prod",
          "endpoint": "project srcaoozjkrughebmbvfb",
          "connection": "pooler (session)",
          "identity": "project srcaoozjkrughebmbvfb",
          "started_at": "2026-05-13T18:00:00Z",
          "finished_at": null,
          "cli_version": "3.1.0",
          "git_commit": "abc123",
          "head_before": "20260512220528",
          "head_after": "20260513041000",
          "outcome": "promoted",
          "batch": [
            {
              "file": "20260512231500_a.sql",
              "sha256": "0123456789abcdef"
            },
            {
              "file": "20260513041000_b.sql",
              "sha256": "fedcba9876543210"
            }
          ],
          "reconciled": [],
          "applied": [
            "20260512231500_a.sql",
            "20260513041000_b.sql"
          ],
          "failed": null,
          "not_attempted": [],
          "rehearsal": "passed on a local shadow (history + batch)",
          "findings": [
            {
              "code": "destructive",
              "severity": "note",
              "file": "migrations/20260513041000_b.sql",
              "line": 4,
              "col": 1,
              "message": "`drop function f()` (acknowledged: unused)",
              "fix": ""
            }
          ],
          "dry_run": [
            "20260512231500_a.sql",
            "20260513041000_b.sql"
          ],
          "dry_run_transcript": "",
          "push_transcript": "",
          "timings_ms": [
            [
              "push",
              812
            ]
          ]
        }
    "#]]
    .assert_eq(&render(&report, Format::Json));
}

#[test]
fn a_refused_promotion_reports_why_in_json_and_as_an_error_annotation() {
    let record = Record {
        target: "prod".into(),
        outcome: Some(Outcome::Blocked),
        error: Some("promote: preconditions not met".into()),
        refusal: Some("preconditions"),
        failed: None::<Failure>,
        ..Default::default()
    };
    let report = PromoteReport(&record);
    assert_eq!(render(&report, Format::Human), "");
    let json: serde_json::Value = serde_json::from_str(&render(&report, Format::Json)).unwrap();
    assert_eq!(
        (json["outcome"].as_str(), json["error"].as_str(), json["refusal"].as_str()),
        (Some("blocked"), Some("promote: preconditions not met"), Some("preconditions"))
    );
    expect![[r#"
        ::error title=xtask promote::prod: blocked: promote: preconditions not met
    "#]]
    .assert_eq(&render(&report, Format::Github));
}
