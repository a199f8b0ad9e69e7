//! `diagnose` over small histories: each disagreement, its evidence and its one repair or refusal.

use std::collections::{BTreeMap, BTreeSet};

use expect_test::expect;

use super::*;
use crate::domain::history::statements::fingerprint;

fn file(name: &str, sql: &str) -> Migration {
    Migration::with_sql(name, sql)
}

fn ran(version: &str, name: &str, sql: &str) -> Applied {
    Applied { version: version.into(), name: name.into(), fingerprint: Some(fingerprint(sql)) }
}

struct World {
    files: Vec<Migration>,
    live: Vec<Applied>,
    stored: BTreeMap<String, Vec<String>>,
    applied_on: BTreeMap<String, BTreeSet<String>>,
    pushed: BTreeSet<String>,
}

const CORE: &str = "create table public.core (id int);\n";
const HOTFIX: &str = "create index core_id on public.core (id);\n";
const LABELS: &str = "create table public.labels (id int);\nalter table public.labels enable row level security;\n";

/// prod is at 1 (`core`); `hotfix` (2) and `labels` (3) are pending.
fn world() -> World {
    World {
        files: vec![
            file("20260101000001_core.sql", CORE),
            file("20260101000002_hotfix.sql", HOTFIX),
            file("20260101000003_labels.sql", LABELS),
        ],
        live: vec![ran("20260101000001", "core", CORE)],
        stored: BTreeMap::new(),
        applied_on: BTreeMap::from([("20260101000001_core.sql".into(), BTreeSet::from(["prod".to_string()]))]),
        pushed: BTreeSet::new(),
    }
}

impl World {
    fn diagnose(&self, adopt: Option<&str>) -> Diagnosis {
        let adopt: Vec<String> = adopt.into_iter().map(str::to_string).collect();
        let recorded = |m: &Migration| m.file_name == "20260101000001_core.sql";
        diagnose(&Facts {
            target: "prod",
            dir: "migrations",
            files: &self.files,
            head: Some("20260101000001"),
            live: &self.live,
            stored: &self.stored,
            applied_on: &self.applied_on,
            pushed_by_us: &self.pushed,
            recorded: &recorded,
            adopt: &adopt,
            heads: &[("prod".to_string(), "20260101000001".to_string())],
            now: "2026-12-01T00:00:00Z".parse().unwrap(),
        })
    }
}

fn render(d: &Diagnosis) -> String {
    let mut out = String::new();
    for f in &d.found {
        out += &format!("{}: {}\n  evidence: {}\n  repair: {:?}\n", f.version, f.what, f.evidence.join("; "), f.repair);
    }
    out + &format!("head after: {:?}; to prove: {:?}\n", d.head_after, d.to_prove)
}

#[test]
fn a_pending_file_the_dashboard_ran_under_its_own_version_is_renamed_to_it() {
    let mut w = world();
    w.live.push(ran("20260701093015", "hotfix_index", HOTFIX));
    expect![[r#"
        20260701093015: 20260701093015 `hotfix_index` is on prod but no file here has it
          evidence: its statements equal migrations/20260101000002_hotfix.sql's (fingerprint 01bfe2dd2ab3, whitespace and `;` aside, as `promote` compares)
          repair: Rename { from: "migrations/20260101000002_hotfix.sql", to: "migrations/20260701093015_hotfix_index.sql" }
        20260101000003: migrations/20260101000003_labels.sql is pending but sorts before 20260701093015, which prod ran
          evidence: no target applied 20260101000003_labels.sql (the lock, the records)
          repair: Renumber { from: "migrations/20260101000003_labels.sql", to: "migrations/20261201000000_labels.sql" }
        head after: Some("20260701093015"); to prove: ["20261201000000_labels.sql"]
    "#]]
    .assert_eq(&render(&w.diagnose(None)));
}

#[test]
fn a_rename_another_target_would_lose_is_refused() {
    let mut w = world();
    w.live.push(ran("20260701093015", "hotfix_index", HOTFIX));
    w.applied_on.insert("20260101000002_hotfix.sql".into(), BTreeSet::from(["staging".to_string()]));
    let d = w.diagnose(None);
    assert!(d.refused());
    expect![[r#"Refused { refusal: "applied_elsewhere", fix: "staging applied 20260101000002_hotfix.sql as 20260101000002: renaming it would leave that history without its file. Keep the file; adopt 20260701093015 as a file of its own (`cargo xtask reconcile --target prod --adopt 20260701093015`) and make it a no-op where it already ran" }"#]]
        .assert_eq(&format!("{:?}", d.found[0].repair));
    assert!(d.to_prove.is_empty(), "nothing is proven while a disagreement is refused");
}

#[test]
fn statements_no_file_has_are_refused_beside_the_nearest_file_and_adopted_on_request() {
    let mut w = world();
    let sql = "create table public.labels (id int);\nalter table public.labels disable row level security;\n";
    w.live.push(ran("20260702000000", "labels_from_the_editor", sql));
    w.stored.insert(
        "20260702000000".into(),
        vec![
            "create table public.labels (id int)".into(),
            "alter table public.labels disable row level security".into(),
        ],
    );
    expect![[r#"
        20260702000000: 20260702000000 `labels_from_the_editor` is on prod but no file here has it
          evidence: nearest file: migrations/20260101000003_labels.sql, which differs at statement 2: the target ran `alter table public.labels disable row level security`, the file has `alter table public.labels enable row level security`
          repair: Refused { refusal: "statements_differ", fix: "review what ran and make it a file: `cargo xtask reconcile --target prod --adopt 20260702000000` writes `migrations/20260702000000_labels_from_the_editor.sql` from the stored statements" }
        head after: Some("20260101000001"); to prove: []
    "#]]
    .assert_eq(&render(&w.diagnose(None)));
    let adopted = w.diagnose(Some("20260702000000"));
    expect![[r#"
        20260702000000: 20260702000000 `labels_from_the_editor` is on prod but no file here has it
          evidence: 2 statement(s) stored, fingerprint eb40f83e0792
          repair: Adopt { file: "migrations/20260702000000_labels_from_the_editor.sql", sql: "create table public.labels (id int);\n\nalter table public.labels disable row level security;\n" }
        20260101000002: migrations/20260101000002_hotfix.sql is pending but sorts before 20260702000000, which prod ran
          evidence: no target applied 20260101000002_hotfix.sql (the lock, the records)
          repair: Renumber { from: "migrations/20260101000002_hotfix.sql", to: "migrations/20261201000000_hotfix.sql" }
        20260101000003: migrations/20260101000003_labels.sql is pending but sorts before 20260702000000, which prod ran
          evidence: no target applied 20260101000003_labels.sql (the lock, the records)
          repair: Renumber { from: "migrations/20260101000003_labels.sql", to: "migrations/20261201000001_labels.sql" }
        head after: Some("20260702000000"); to prove: ["20261201000000_hotfix.sql", "20261201000001_labels.sql"]
    "#]]
    .assert_eq(&render(&adopted));
    let Repair::Adopt { sql: written, .. } = &adopted.found[0].repair else { panic!() };
    assert_eq!(fingerprint(written), fingerprint(sql), "the adopted file is what ran");
}

#[test]
fn a_version_with_nothing_stored_cannot_be_proven_or_adopted() {
    let mut w = world();
    w.live.push(Applied { version: "20260702000000".into(), name: "x".into(), fingerprint: None });
    let d = w.diagnose(Some("20260702000000"));
    expect![[r#"Refused { refusal: "nothing_stored", fix: "nothing to adopt: restore the file that ran from where it was written, as `migrations/20260702000000_x.sql`" }"#]]
        .assert_eq(&format!("{:?}", d.found[0].repair));
}

#[test]
fn pending_files_another_tool_applied_are_recorded_and_named_so_and_ours_as_ours() {
    let mut w = world();
    w.live.push(ran("20260101000002", "hotfix", HOTFIX));
    let d = w.diagnose(None);
    assert_eq!(
        d.found[0].repair,
        Repair::Record { file: "20260101000002_hotfix.sql".into(), by: Applier::AnotherTool }
    );
    assert_eq!(
        (d.head_after.as_deref(), &d.to_prove[..]),
        (Some("20260101000002"), &["20260101000003_labels.sql".to_string()][..])
    );
    w.pushed.insert("20260101000002_hotfix.sql".into());
    let d = w.diagnose(None);
    assert_eq!(
        d.found[0].repair,
        Repair::Record { file: "20260101000002_hotfix.sql".into(), by: Applier::InterruptedPromotion }
    );
}

#[test]
fn a_file_edited_after_another_tool_ran_it_is_refused_with_the_first_difference() {
    let mut w = world();
    w.live.push(ran("20260101000002", "hotfix", "create index core_id on public.core (id desc);"));
    w.stored.insert("20260101000002".into(), vec!["create index core_id on public.core (id desc)".into()]);
    let d = w.diagnose(None);
    expect![[r#"
        20260101000002: 20260101000002 `hotfix` is on prod but no promotion recorded it
          evidence: migrations/20260101000002_hotfix.sql differs at statement 1: the target ran `create index core_id on public.core (id desc)`, the file has `create index core_id on public.core (id)`
          repair: Refused { refusal: "statements_differ", fix: "make migrations/20260101000002_hotfix.sql what prod ran (the statements above: the target keeps its row); a change belongs in a new migration (`cargo xtask new`)" }
        head after: Some("20260101000001"); to prove: []
    "#]]
    .assert_eq(&render(&d));
}

#[test]
fn a_later_file_applied_before_an_earlier_one_moves_the_earlier_one_unless_a_target_applied_it() {
    let mut w = world();
    w.live.push(ran("20260101000003", "labels", LABELS));
    expect![[r#"
        20260101000002: migrations/20260101000002_hotfix.sql is pending but sorts before 20260101000003, which prod ran
          evidence: no target applied 20260101000002_hotfix.sql (the lock, the records)
          repair: Renumber { from: "migrations/20260101000002_hotfix.sql", to: "migrations/20261201000000_hotfix.sql" }
        20260101000003: 20260101000003 `labels` is on prod but no promotion recorded it
          evidence: its stored statements equal migrations/20260101000003_labels.sql (fingerprint 2ad57bf9f178)
          repair: Record { file: "20260101000003_labels.sql", by: AnotherTool }
        head after: Some("20260101000003"); to prove: ["20261201000000_hotfix.sql"]
    "#]]
    .assert_eq(&render(&w.diagnose(None)));
    w.applied_on.insert("20260101000002_hotfix.sql".into(), BTreeSet::from(["staging".to_string()]));
    let d = w.diagnose(None);
    let Repair::Refused { refusal, fix } = &d.found[0].repair else { panic!("{d:?}") };
    assert_eq!(*refusal, "out_of_order");
    assert!(fix.starts_with("migrations/20260101000002_hotfix.sql cannot move (another target applied it"), "{fix}");
}

#[test]
fn in_sync_finds_nothing_and_offers_the_pending_files_for_proof() {
    let d = world().diagnose(None);
    assert!(d.found.is_empty());
    assert_eq!(d.to_prove, ["20260101000002_hotfix.sql", "20260101000003_labels.sql"]);
}

#[test]
fn a_rename_to_a_version_another_target_is_past_is_refused() {
    let mut w = world();
    w.live.push(ran("20260101000009", "hotfix_index", HOTFIX));
    let adopt: Vec<String> = Vec::new();
    let recorded = |m: &Migration| m.file_name == "20260101000001_core.sql";
    let heads = [("prod".to_string(), "20260101000001".to_string()), ("dev".to_string(), "20260101000010".to_string())];
    let d = diagnose(&Facts {
        target: "prod",
        dir: "migrations",
        files: &w.files,
        head: Some("20260101000001"),
        live: &w.live,
        stored: &w.stored,
        applied_on: &w.applied_on,
        pushed_by_us: &w.pushed,
        recorded: &recorded,
        adopt: &adopt,
        heads: &heads,
        now: "2026-12-01T00:00:00Z".parse().unwrap(),
    });
    expect![[r#"Refused { refusal: "out_of_order", fix: "a file at 20260101000009 would be recorded as run on dev too, which never ran it: decide by hand which history is right; nothing here rewrites an applied one" }"#]]
        .assert_eq(&format!("{:?}", d.found[0].repair));
}

#[test]
fn a_recorded_file_the_target_lacks_is_missing_not_repaired() {
    let mut w = world();
    w.live.clear();
    let d = w.diagnose(None);
    let Repair::Refused { refusal, fix } = &d.found[0].repair else { panic!("{d:?}") };
    assert_eq!(*refusal, "missing");
    assert!(fix.contains("`cargo xtask status --target prod --live`"), "{fix}");
}
