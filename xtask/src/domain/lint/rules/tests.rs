//! The rules on small trees and statements: exact findings, file, line and severity.

use super::*;
use crate::domain::history::lock::TargetState;
use crate::domain::lint::sql::{LintSettings, analyze};

fn m(file: &str) -> Migration {
    Migration::with_sql(file, "")
}

/// Listed files by name, for the rules on names and order.
fn named(files: &[&str]) -> Vec<MigrationFile> {
    files.iter().map(|f| MigrationFile::named(f)).collect()
}

fn refs(files: &[MigrationFile]) -> Vec<&MigrationFile> {
    files.iter().collect()
}

fn codes(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(|f| format!("{}:{}:{}:{}", f.severity.as_str(), f.code, f.file, f.pos.line)).collect()
}

fn lock_with_head(head_file: &str) -> Lock {
    let mut lock = Lock::default();
    lock.files.insert(head_file.into(), "x".into());
    let (head, _) = migrations::parse_file_name(head_file).unwrap();
    lock.targets.insert("prod".into(), TargetState::at(head, "baseline"));
    lock
}

fn lint(sql: &str) -> Analysis {
    analyze(sql, &LintSettings { squawk_rules: &squawk_rules(&HashMap::new()) })
}

#[test]
fn file_name_warnings() {
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let files = named(&[
        "20260101000000_ok.sql",
        "20260101000001_BadName.sql",
        "20261399000000_x.sql",
        "1_short.sql",
        "20990101000000_later.sql",
    ]);
    assert_eq!(
        codes(&file_names(&refs(&files), now)),
        [
            "warning:file-name:migrations/20260101000001_BadName.sql:0",
            "warning:file-name:migrations/20261399000000_x.sql:0",
            "warning:file-name:migrations/1_short.sql:0",
            "warning:future-version:migrations/20990101000000_later.sql:0",
        ]
    );
}

#[test]
fn duplicate_versions_name_each_other() {
    let files = named(&["20260101000000_a.sql", "20260101000000_b.sql", "20260101000001_c.sql"]);
    let found = duplicate_versions(&refs(&files));
    assert_eq!(
        codes(&found),
        [
            "error:duplicate-version:migrations/20260101000000_a.sql:0",
            "error:duplicate-version:migrations/20260101000000_b.sql:0"
        ]
    );
    assert!(found[0].message.contains("also used by 20260101000000_b.sql"));
}

#[test]
fn out_of_order_only_for_unapplied_files_at_or_before_a_head() {
    let lock = lock_with_head("20260102000000_head.sql");
    let files = named(&["20260101000000_old.sql", "20260102000000_head.sql", "20260103000000_new.sql"]);
    assert_eq!(codes(&out_of_order(&refs(&files), &lock)), ["error:out-of-order:migrations/20260101000000_old.sql:0"]);
}

#[test]
fn out_of_order_names_every_file_and_every_head_it_is_behind() {
    let mut lock = lock_with_head("20260103000000_head.sql");
    let dev = TargetState { head: "20260102000000".into(), ..lock.targets["prod"].clone() };
    lock.targets.insert("dev".into(), dev);
    let files = named(&["20260101000000_late_a.sql", "20260102000000_late_b.sql", "20260103000000_head.sql"]);
    let found: Vec<(String, String, String)> =
        out_of_order(&refs(&files), &lock).into_iter().map(|f| (f.file, f.message, f.fix)).collect();
    assert_eq!(
        found,
        [
            (
                "migrations/20260101000000_late_a.sql".to_string(),
                "not applied, but its version is at or before the recorded heads of dev (head 20260102000000) and prod (head 20260103000000): the CLI refuses the push".to_string(),
                "give it a version after the heads, keeping its name and SQL: `cargo xtask fix --renumber migrations/20260101000000_late_a.sql`".to_string()
            ),
            (
                "migrations/20260102000000_late_b.sql".to_string(),
                "not applied, but its version is at or before the recorded heads of dev (head 20260102000000) and prod (head 20260103000000): the CLI refuses the push".to_string(),
                "give it a version after the heads, keeping its name and SQL: `cargo xtask fix --renumber migrations/20260102000000_late_b.sql`".to_string()
            ),
        ]
    );
    lock.targets.remove("dev");
    let one = out_of_order(&refs(&files[..1]), &lock);
    assert_eq!(
        one[0].message,
        "not applied, but its version is at or before the recorded head of prod (head 20260103000000): the CLI refuses the push"
    );
}

#[test]
fn applied_history_finds_changed_and_missing_files() {
    let mut lock = lock_with_head("20260102000000_head.sql");
    lock.files.insert("20260101000000_gone.sql".into(), "y".into());
    let changed = HashMap::from([("20260102000000_head.sql", Some("z"))]);
    assert_eq!(
        codes(&applied_history(&changed, &lock, "migrations")),
        [
            "error:applied-missing:migrations/20260101000000_gone.sql:0",
            "error:applied-modified:migrations/20260102000000_head.sql:0"
        ]
    );
    let same = HashMap::from([("20260102000000_head.sql", Some("x")), ("20260101000000_gone.sql", None)]);
    assert!(applied_history(&same, &lock, "migrations").is_empty());
}

#[test]
fn destructive_needs_an_acknowledgement_with_a_reason() {
    let file = m("20260101000000_x.sql");
    assert_eq!(
        codes(&destructive(&file, &lint("select 1;\ndrop table a;\n"))),
        ["error:destructive:migrations/20260101000000_x.sql:2"]
    );
    let acked = destructive(&file, &lint("-- xtask: ack destructive: table unused since 2025\ndrop table a;\n"));
    assert_eq!(codes(&acked), ["note:destructive:migrations/20260101000000_x.sql:2"]);
    assert_eq!(acked[0].message, "`drop table a` (acknowledged: table unused since 2025)");
    let no_reason = destructive(&file, &lint("-- xtask: ack destructive\ndrop table a;\n"));
    assert_eq!(
        codes(&no_reason),
        ["error:destructive:migrations/20260101000000_x.sql:1", "error:destructive:migrations/20260101000000_x.sql:2"]
    );
}

#[test]
fn concurrently_must_be_alone_and_rerunnable() {
    let file = m("20260101000000_x.sql");
    assert!(concurrently(&file, &lint("create index concurrently if not exists i on t (a);\n")).is_empty());
    assert_eq!(
        codes(&concurrently(&file, &lint("create table t (a int);\ncreate index concurrently i on t (a);\n"))),
        [
            "error:concurrently:migrations/20260101000000_x.sql:2",
            "error:concurrently:migrations/20260101000000_x.sql:2"
        ]
    );
}

#[test]
fn lock_table_fails_under_the_cli() {
    let file = m("20260101000000_x.sql");
    let found =
        transaction_control(&file, &lint("lock table t in access exclusive mode;\nalter table t rename to u;\n"));
    assert_eq!(codes(&found), ["error:transaction-control:migrations/20260101000000_x.sql:1"]);
    assert!(found[0].message.starts_with("LOCK TABLE fails under the CLI"), "{}", found[0].message);
}

#[test]
fn transaction_control_statements() {
    let file = m("20260101000000_x.sql");
    let found = transaction_control(&file, &lint("begin;\ncreate table t (a int);\ncommit;\n"));
    assert_eq!(
        codes(&found),
        [
            "error:transaction-control:migrations/20260101000000_x.sql:1",
            "error:transaction-control:migrations/20260101000000_x.sql:3"
        ]
    );
}

#[test]
fn squawk_findings_and_configured_severities() {
    let file = m("20260101000000_x.sql");
    let a = lint("alter table t add column c int not null;\n");
    let found = squawk(&file, &a);
    assert_eq!(codes(&found), ["error:adding-required-field:migrations/20260101000000_x.sql:1"]);
    let overrides = HashMap::from([("adding-required-field".to_string(), Severity::Warning)]);
    assert_eq!(apply_severities(found.clone(), &overrides)[0].severity, Severity::Warning);
    let off = HashMap::from([("adding-required-field".to_string(), Severity::Off)]);
    assert!(apply_severities(found, &off).is_empty());
    assert!(!squawk_rules(&off).contains(&Rule::AddingRequiredField));
}

#[test]
fn partition_phases_mixed_in_one_batch() {
    let (f1, f2, f3) = (m("20260101000000_shadow.sql"), m("20260102000000_cutover.sql"), m("20260103000000_do.sql"));
    let a1 = lint(
        "create table events_p (id bigint, at timestamptz) partition by range (at);\n\
         create function sync_events() returns trigger language plpgsql as $$ begin insert into events_p values (new.*); return new; end $$;\n\
         create trigger s after insert on events for each row execute function sync_events();\n",
    );
    let a2 = lint("alter table events rename to events_old;\nalter table events_p rename to events;\n");
    let a3 = lint("do $$ begin execute format('alter table events_p detach partition %I', 'x'); end $$;\n");
    let phases = partition_phases(&[(&f1, &a1), (&f2, &a2), (&f3, &a3)]);
    assert_eq!(phases.iter().filter(|(i, _, p)| *i == 0 && matches!(p, Phase::One(_))).count(), 3);
    let found = partition_phase_mix(&[(&f1, &a1), (&f2, &a2), (&f3, &a3)]);
    assert_eq!(
        codes(&found),
        [
            "error:partition-phase-mix:migrations/20260102000000_cutover.sql:1",
            "error:partition-phase-mix:migrations/20260102000000_cutover.sql:2",
            "error:partition-phase-unstated:migrations/20260103000000_do.sql:1",
        ]
    );
    // Phase 2 alone, or phase 1 alone, is fine.
    assert!(partition_phase_mix(&[(&f1, &a1)]).is_empty());
    let stated =
        lint("-- xtask: partition-phase 2\ndo $$ begin execute 'alter table events_p detach partition x'; end $$;\n");
    assert!(partition_phase_mix(&[(&f3, &stated)]).is_empty());
}

#[test]
fn mentions_matches_whole_identifiers() {
    assert!(mentions("insert into public.events_p values", "events_p"));
    assert!(!mentions("insert into events_p2 values", "events_p"));
    assert!(!mentions("insert into my_events_p values", "events_p"));
}

/// The linter is skipped on files without its rules' keywords: every default rule still fires on an example,
/// written in capitals, so a wrong keyword or a case-sensitive test fails here.
#[test]
fn every_default_squawk_rule_fires_through_the_keyword_gate() {
    let examples = [
        (Rule::RequireConcurrentIndexCreation, "CREATE INDEX FOO_IDX ON PUBLIC.FOO (A);"),
        (Rule::RequireConcurrentIndexDeletion, "DROP INDEX FOO_IDX;"),
        (Rule::RequireConcurrentReindex, "REINDEX TABLE PUBLIC.FOO;"),
        (Rule::ConstraintMissingNotValid, "ALTER TABLE PUBLIC.FOO ADD CONSTRAINT C CHECK (A > 0);"),
        (
            Rule::AddingForeignKeyConstraint,
            "ALTER TABLE PUBLIC.FOO ADD CONSTRAINT FK FOREIGN KEY (B) REFERENCES PUBLIC.BAR (ID);",
        ),
        (Rule::AddingRequiredField, "ALTER TABLE PUBLIC.FOO ADD COLUMN C TEXT NOT NULL;"),
        (Rule::AddingNotNullableField, "ALTER TABLE PUBLIC.FOO ALTER COLUMN A SET NOT NULL;"),
        (Rule::AddingSerialPrimaryKeyField, "ALTER TABLE PUBLIC.FOO ADD PRIMARY KEY (ID);"),
        (Rule::AddingFieldWithDefault, "ALTER TABLE PUBLIC.FOO ADD COLUMN D TIMESTAMPTZ DEFAULT CLOCK_TIMESTAMP();"),
        (Rule::DisallowedUniqueConstraint, "ALTER TABLE PUBLIC.FOO ADD CONSTRAINT U UNIQUE (A);"),
        (Rule::RenamingColumn, "ALTER TABLE PUBLIC.FOO RENAME COLUMN A TO B;"),
        (Rule::RenamingTable, "ALTER TABLE PUBLIC.FOO RENAME TO BAR;"),
        (Rule::BanDropDatabase, "DROP DATABASE X;"),
        (Rule::BanTruncateCascade, "TRUNCATE PUBLIC.FOO CASCADE;"),
        (Rule::BanCreateDomainWithConstraint, "CREATE DOMAIN D AS INT CHECK (VALUE > 0);"),
        (Rule::BanAlterDomainWithAddConstraint, "ALTER DOMAIN D ADD CONSTRAINT C CHECK (VALUE > 0);"),
    ];
    let defaults: BTreeSet<String> = DEFAULT_SQUAWK.iter().map(|(r, _)| r.to_string()).collect();
    let covered: BTreeSet<String> = examples.iter().map(|(r, _)| r.to_string()).collect();
    assert_eq!(defaults, covered, "an example per default rule");
    for (rule, sql) in examples {
        let fired: Vec<Rule> = lint(sql).violations.iter().map(|v| v.rule).collect();
        assert!(fired.contains(&rule), "{rule} on `{sql}`: {fired:?}");
    }
}

#[test]
fn a_configured_rule_without_keywords_always_runs() {
    let a = analyze("create table t (c char(5));\n", &LintSettings { squawk_rules: &[Rule::BanCharField] });
    assert_eq!(a.violations.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::BanCharField]);
    let a = analyze("grant select on t to anon;\n", &LintSettings { squawk_rules: &squawk_rules(&HashMap::new()) });
    assert!(a.violations.is_empty());
}
