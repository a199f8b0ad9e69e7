//! `cargo xtask check` on copies of the example tree, each broken one way: exit code, exact rule codes, and
//! nothing on disk changed. First, the repository itself: what its own workflows run on main must pass.

use crate::support::{APPLIED_FILE, HEAD_FILE, PENDING_FILE, PROD_HEAD, Run, Tree, repo_root};

const ACKED: &str = "note:destructive:20260513132700_fix_form_completion_metrics_rls_args.sql:5";

/// The xtask on this repository itself, as a fresh clone has it (no copy, no lint cache), without credentials.
fn in_the_repository(args: &[&str]) -> Run {
    let out = crate::support::xtask()
        .arg("--repo")
        .arg(repo_root())
        .args(args)
        .env_remove("CI")
        .env_remove("SUPABASE_ACCESS_TOKEN")
        .env_remove("SUPABASE_PROJECT_ID")
        .env_remove("PROD_DB_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    Run::of(out)
}

/// db-migration-guard.yml's `check` job runs on every pull request that touches migrations: a finding in the
/// repository's own tree would fail each of them for something they did not change.
#[test]
fn the_repository_passes_its_own_check() {
    let run = in_the_repository(&["check", "--no-cache", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings(), [ACKED]);
    let run = in_the_repository(&["check", "--no-cache", "--format", "github"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
}

/// The same job's `status --target prod`: the pending batch is the runbook's catch-up batch, nothing more.
#[test]
fn the_repository_holds_exactly_the_runbooks_catch_up_batch_for_prod() {
    let run = in_the_repository(&["status", "--target", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Vec<&str> = run.stdout.lines().filter_map(|l| l.trim().split_once(". ").map(|(_, f)| f)).collect();
    assert_eq!(listed, crate::commands::RUNBOOK_BATCH);
    assert!(run.stdout.contains(&format!("Current catch-up batch (after PROD {PROD_HEAD})")), "{}", run.stdout);

    let run = in_the_repository(&["status", "--target", "prod", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["head"], PROD_HEAD);
    let files: Vec<&str> = json["pending"].as_array().unwrap().iter().map(|p| p["file"].as_str().unwrap()).collect();
    assert_eq!(files, crate::commands::RUNBOOK_BATCH);
}

#[test]
fn example_tree_passes_with_its_acknowledged_drop_listed_for_review() {
    let run = Tree::example().check();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings(), [ACKED]);
}

/// The partition walk-through of `examples/partition/` added to the pending batch: phase 1 and the cutover
/// together are refused, and nothing else is.
#[test]
fn the_full_example_shows_the_partition_gating_and_nothing_else_blocks() {
    let run = Tree::full_example().check();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:partition-phase-mix:20260615090000_audit_log_partition_cutover.sql:3",
            "warning:renaming-table:20260615090000_audit_log_partition_cutover.sql:10",
            "note:destructive:20260615090000_audit_log_partition_cutover.sql:12",
            "warning:renaming-table:20260615090000_audit_log_partition_cutover.sql:13",
        ]
    );
    assert!(run.stdout.contains("--until 20260601091000"), "names the last phase-1 version: {}", run.stdout);
}

#[test]
fn example_tree_human_output() {
    let run = Tree::example().run_read_only(&["check"]);
    assert_eq!(run.code, 0);
    expect_test::expect![[r#"
        migrations/20260513132700_fix_form_completion_metrics_rls_args.sql:5:1: note[destructive]: `drop function if exists public.form_completion_metrics(uuid, date)` (acknowledged: the (uuid, date) signature has no callers left (app switched to the 3-argument form in release 2026.05.2))

        check: 14 file(s) linted (0 from the lint cache), 9 applied file(s) hashed: 0 error(s), 0 warning(s), 1 note(s)
    "#]]
    .assert_eq(&run.stdout);
}

#[test]
fn non_utf8_file_is_a_parse_error_with_its_line() {
    let tree = Tree::example();
    tree.write("migrations/20260601000000_latin1.sql", b"select 1;\ninsert into t values ('caf\xe9');\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), [ACKED, "error:parse-error:20260601000000_latin1.sql:2"]);
    assert!(run.stdout.contains("not valid UTF-8 (byte 36)"), "{}", run.stdout);
    assert!(run.stdout.contains("save the file as UTF-8"));
}

#[test]
fn empty_file_is_a_warning() {
    let tree = Tree::example();
    tree.write("migrations/20260601000000_empty.sql", "");
    tree.write("migrations/20260601000001_only_comments.sql", "-- nothing yet\n");
    let run = tree.check();
    assert_eq!(run.code, 0);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "warning:empty-file:20260601000000_empty.sql:0",
            "warning:empty-file:20260601000001_only_comments.sql:0"
        ]
    );
}

#[test]
fn fifty_megabyte_file_is_refused_unread() {
    let tree = Tree::example();
    let line = "insert into public.audit_log (entity, action) values ('bulk', 'import');\n";
    tree.write("migrations/20260601000000_bulk_load.sql", line.repeat(50_000_000 / line.len() + 1));
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.codes(), ["note:destructive", "error:file-too-large"]);
    assert!(run.stdout.contains("over the limit of 8388608 ([check] max_file_bytes in xtask.toml)"), "{}", run.stdout);
}

#[test]
fn sql_files_the_cli_would_skip_are_errors() {
    let tree = Tree::example();
    tree.write("migrations/init.sql", "create table t (id bigint);\n");
    tree.write("migrations/20260601000000-dash.sql", "select 1;\n");
    tree.write("migrations/20260601000001_upper.SQL", "select 1;\n");
    tree.write("migrations/archive/20260601000002_nested.sql", "select 1;\n");
    tree.write("migrations/README.md", "not sql, ignored\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:file-name:20260601000000-dash.sql:0",
            "error:file-name:20260601000001_upper.SQL:0",
            "error:file-name:20260601000002_nested.sql:0",
            "error:file-name:init.sql:0",
        ]
    );
    assert!(run.stdout.contains("reads only the top level"), "{}", run.stdout);
}

#[test]
fn directory_named_like_a_migration() {
    let tree = Tree::example();
    std::fs::create_dir(tree.path("migrations/20260601000000_dir.sql")).unwrap();
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), [ACKED, "error:unreadable:20260601000000_dir.sql:0"]);
    assert!(run.stdout.contains("is a directory, but is named like a migration"));
}

#[test]
fn symlink_loop() {
    let tree = Tree::example();
    std::os::unix::fs::symlink("20260601000000_loop.sql", tree.path("migrations/20260601000000_loop.sql")).unwrap();
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), [ACKED, "error:unreadable:20260601000000_loop.sql:0"]);
    assert!(run.stdout.contains("cannot read"), "{}", run.stdout);
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::example();
    tree.write("migrations/20260601000000_secret.sql", "select 1;\n");
    std::fs::set_permissions(tree.path("migrations/20260601000000_secret.sql"), std::fs::Permissions::from_mode(0o000))
        .unwrap();
    // root reads anything: run as `nobody` then, which needs to traverse the tree.
    let cmd = if unsafe { libc_geteuid() } == 0 {
        std::fs::set_permissions(tree.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_xtask")]);
        cmd
    } else {
        crate::support::xtask()
    };
    let run = tree.run_cmd(cmd, &["check", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings(), [ACKED, "error:unreadable:20260601000000_secret.sql:0"]);
    assert!(run.stdout.contains("Permission denied"), "{}", run.stdout);
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn malformed_xtask_toml_names_file_line_and_key() {
    let tree = Tree::example();
    tree.write("xtask.toml", "migrations_dir = \"migrations\"\n[targets.prod]\nproject_ref = srcaoozjkrughebmbvfb\n");
    let run = tree.run_read_only(&["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("xtask.toml") && run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "errors go to stderr: {}", run.stdout);

    tree.write("xtask.toml", "migrations_dir = \"migrations\"\n[check.severity]\nno-such-rule = \"off\"\n");
    let run = tree.run_read_only(&["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("line 3: [check.severity] has unknown rule `no-such-rule`"), "{}", run.stderr);

    tree.write("xtask.toml", "migrations_dir = \"migrations\"\nmax_file_bytes = 1\n");
    let run = tree.run_read_only(&["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown field `max_file_bytes`"), "{}", run.stderr);
}

#[test]
fn missing_migrations_dir_and_missing_repo() {
    let tree = Tree::example();
    tree.write("xtask.toml", "migrations_dir = \"supabase/migrations\"\n");
    let run = tree.run_read_only(&["check"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("migrations_dir `supabase/migrations` (from xtask.toml) is not a directory"),
        "{}",
        run.stderr
    );

    let empty = tempfile::tempdir().unwrap();
    let out = crate::support::xtask().arg("--repo").arg(empty.path()).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no xtask.toml there"));
}

#[test]
fn lock_file_edited_by_hand_is_refused() {
    let tree = Tree::example();
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    tree.write("migrations/promotion.lock", lock.replace("head = \"20260512220528\"", "head = \"20260513175000\""));
    for args in [&["check"][..], &["status", "--target", "prod"]] {
        let run = tree.run_read_only(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("edited by hand"), "{}", run.stderr);
        assert!(run.stderr.contains("git checkout -- migrations/promotion.lock"), "{}", run.stderr);
    }
    tree.write("migrations/promotion.lock", "format = 1\ndigest = [\n");
    let run = tree.run_read_only(&["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("promotion.lock is not a valid lock file"), "{}", run.stderr);
}

#[test]
fn duplicate_version_with_different_names() {
    let tree = Tree::example();
    tree.write("migrations/20260513175000_other_thing.sql", "select 1;\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:duplicate-version:20260513175000_other_thing.sql:0",
            "error:duplicate-version:20260513175000_permissions_sync_pf30_nav_permission_backfill.sql:0",
        ]
    );
}

#[test]
fn version_in_the_future_and_invalid_times_are_warnings() {
    let tree = Tree::example();
    tree.write("migrations/20991231235959_someday.sql", "select 1;\n");
    tree.write("migrations/20261399000000_no_such_month.sql", "select 1;\n");
    tree.write("migrations/20260601000000_CamelCase.sql", "select 1;\n");
    let run = tree.check();
    assert_eq!(run.code, 0);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "warning:file-name:20260601000000_CamelCase.sql:0",
            "warning:file-name:20261399000000_no_such_month.sql:0",
            "warning:future-version:20991231235959_someday.sql:0",
        ]
    );
}

#[test]
fn crlf_only_change_to_an_applied_file_is_not_a_modification() {
    let tree = Tree::example();
    let text = String::from_utf8(tree.read(APPLIED_FILE)).unwrap();
    tree.write(APPLIED_FILE, text.replace('\n', "\r\n"));
    let run = tree.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.findings(), [ACKED]);
}

#[test]
fn applied_file_modified_or_missing() {
    let tree = Tree::example();
    let mut text = tree.read(APPLIED_FILE);
    text.extend_from_slice(b"-- a harmless-looking comment\n");
    tree.write(APPLIED_FILE, text);
    tree.remove(HEAD_FILE);
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            "error:applied-modified:20260202141500_problems.sql:0",
            "error:applied-missing:20260512220528_nav_items_and_permissions.sql:0",
            ACKED,
        ]
    );
    assert!(run.stdout.contains("git checkout -- migrations/20260202141500_problems.sql"));
}

#[test]
fn out_of_order_file() {
    let tree = Tree::example();
    tree.write("migrations/20260401000000_late_arrival.sql", "create table public.late (id bigint primary key);\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), ["error:out-of-order:20260401000000_late_arrival.sql:0", ACKED]);
    assert!(run.stdout.contains("prod (head 20260512220528)"), "{}", run.stdout);
}

#[test]
fn destructive_statements_need_an_acknowledgement_with_a_reason() {
    let tree = Tree::example();
    tree.write(
        "migrations/20260601000000_cleanup.sql",
        "alter table public.contacts drop column full_name;\nalter table public.problems alter column title type varchar(200);\ntruncate public.audit_log;\n",
    );
    tree.write(
        "migrations/20260601000001_cleanup_acked.sql",
        "-- xtask: ack destructive\ndrop table public.nav_item_permissions;\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:destructive:20260601000000_cleanup.sql:1",
            "error:destructive:20260601000000_cleanup.sql:2",
            "error:destructive:20260601000000_cleanup.sql:3",
            "error:destructive:20260601000001_cleanup_acked.sql:1",
            "error:destructive:20260601000001_cleanup_acked.sql:2",
        ]
    );
    assert!(run.stdout.contains("acknowledgement without a reason"));
}

#[test]
fn concurrently_must_be_alone_and_rerunnable() {
    let tree = Tree::example();
    tree.write(
        "migrations/20260601000000_index_and_more.sql",
        "alter table public.contacts add column if not exists phone text;\ncreate index concurrently contacts_phone_idx on public.contacts (phone);\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:concurrently:20260601000000_index_and_more.sql:2",
            "error:concurrently:20260601000000_index_and_more.sql:2"
        ]
    );
}

#[test]
fn transaction_control() {
    let tree = Tree::example();
    tree.write(
        "migrations/20260601000000_txn.sql",
        "begin;\ncreate table public.t (id bigint primary key);\ncommit;\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [
            ACKED,
            "error:transaction-control:20260601000000_txn.sql:1",
            "error:transaction-control:20260601000000_txn.sql:3"
        ]
    );
}

const PHASE_ONE: &str = "create table public.submissions_p (like public.form_submissions) partition by range (submitted_at);\n\
create table public.submissions_p_2026 partition of public.submissions_p for values from ('2026-01-01') to ('2027-01-01');\n\
create function public.sync_submissions_p() returns trigger language plpgsql set search_path = '' as $$\n\
begin insert into public.submissions_p select new.*; return new; end $$;\n\
create trigger sync_submissions_p after insert on public.form_submissions for each row execute function public.sync_submissions_p();\n";

#[test]
fn partition_phase_one_and_two_in_one_batch() {
    let tree = Tree::example();
    tree.write("migrations/20260601000000_submissions_partition_shadow.sql", PHASE_ONE);
    tree.write("migrations/20260601000001_submissions_cutover.sql", "alter table public.form_submissions rename to form_submissions_old;\nalter table public.submissions_p rename to form_submissions;\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    let mixed: Vec<String> = run.findings().into_iter().filter(|f| f.contains("partition")).collect();
    assert_eq!(
        mixed,
        [
            "error:partition-phase-mix:20260601000001_submissions_cutover.sql:1",
            "error:partition-phase-mix:20260601000001_submissions_cutover.sql:2"
        ]
    );
    assert!(run.stdout.contains("20260601000000_submissions_partition_shadow.sql"), "names the phase-1 file");

    // Phase 1 alone is fine.
    tree.remove("migrations/20260601000001_submissions_cutover.sql");
    let run = tree.check();
    assert!(!run.codes().iter().any(|c| c.contains("partition")), "{:?}", run.findings());
}

#[test]
fn dynamic_partition_sql_without_a_stated_phase() {
    let tree = Tree::example();
    let body = "do $$ begin execute format('alter table %I detach partition %I', 'events', 'events_2025'); end $$;\n";
    tree.write("migrations/20260601000000_detach_old.sql", body);
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), [ACKED, "error:partition-phase-unstated:20260601000000_detach_old.sql:1"]);

    tree.write("migrations/20260601000000_detach_old.sql", format!("-- xtask: partition-phase 2\n{body}"));
    assert_eq!(tree.check().code, 0);
}

#[test]
fn parse_error_and_malformed_directive() {
    let tree = Tree::example();
    tree.write("migrations/20260601000000_typo.sql", "select 1;\ncreate tabel public.t (id bigint);\n");
    tree.write("migrations/20260601000001_directive.sql", "-- xtask: ack destructiv: typo\nselect 1;\n");
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings(),
        [ACKED, "error:parse-error:20260601000000_typo.sql:2", "error:parse-error:20260601000001_directive.sql:1"]
    );
    assert!(
        run.stdout.contains(r#""message": "syntax error at or near \"tabel\": not a CREATE command""#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("unknown directive `xtask: ack destructiv: typo`"));
}

#[test]
fn squawk_lock_safety_rules_at_configured_severity() {
    let tree = Tree::example();
    tree.write(
        "migrations/20260601000000_index.sql",
        "create index if not exists contacts_name_idx on public.contacts (full_name);\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 0);
    assert_eq!(run.findings(), [ACKED, "warning:require-concurrent-index-creation:20260601000000_index.sql:1"]);

    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write(
        "xtask.toml",
        config.replace(
            "require-concurrent-index-creation = \"warning\"",
            "require-concurrent-index-creation = \"error\"",
        ),
    );
    let run = tree.check();
    assert_eq!(run.code, 1);
    assert_eq!(run.findings(), [ACKED, "error:require-concurrent-index-creation:20260601000000_index.sql:1"]);

    tree.write(
        "xtask.toml",
        config
            .replace("require-concurrent-index-creation = \"warning\"", "require-concurrent-index-creation = \"off\""),
    );
    assert_eq!(tree.check().findings(), [ACKED]);
}

#[test]
fn every_offender_is_reported_in_one_run() {
    let tree = Tree::example();
    tree.write("migrations/init.sql", "select 1;\n");
    tree.write("migrations/20260401000000_late.sql", "select 1;\n");
    tree.write("migrations/20260601000000_txn.sql", "begin;\ndrop table public.contacts;\ncommit;\n");
    tree.remove(APPLIED_FILE);
    let mut text = tree.read(PENDING_FILE);
    text.extend_from_slice(b"create index concurrently x on public.contacts (email);\n");
    tree.write(PENDING_FILE, text);
    let run = tree.check();
    assert_eq!(run.code, 1);
    let mut codes = run.codes();
    codes.sort();
    codes.dedup();
    assert_eq!(
        codes,
        [
            "error:applied-missing",
            "error:concurrently",
            "error:destructive",
            "error:file-name",
            "error:out-of-order",
            "error:transaction-control",
            "note:destructive",
        ]
    );
}

#[test]
fn github_annotations() {
    let tree = Tree::example();
    tree.write("migrations/20260601000000_txn.sql", "begin;\nselect 1;\n");
    let run = tree.run_read_only(&["check", "--format", "github"]);
    assert_eq!(run.code, 1);
    expect_test::expect![[r#"
        ::notice file=migrations/20260513132700_fix_form_completion_metrics_rls_args.sql,line=5,col=1,title=xtask check%3A destructive::`drop function if exists public.form_completion_metrics(uuid, date)` (acknowledged: the (uuid, date) signature has no callers left (app switched to the 3-argument form in release 2026.05.2))
        ::error file=migrations/20260601000000_txn.sql,line=1,col=1,title=xtask check%3A transaction-control::BEGIN: the CLI already runs each file in one transaction; after an explicit COMMIT the rest runs in autocommit%0Afix: remove the statement; split work that must not share a transaction into separate migrations
        check: 1 error(s), 0 warning(s), 1 note(s)
    "#]]
    .assert_eq(&run.stdout);
    assert!(run.stderr.contains("check: 1 blocking finding(s)"));
}

#[test]
fn the_lint_cache_answers_for_unchanged_files_and_never_hides_a_changed_rule_or_file() {
    let tree = Tree::example();
    let file = "migrations/20260601000000_codes.sql";
    tree.write(file, "create table public.codes (code char(5));\n");
    assert_eq!(tree.check().findings(), [ACKED], "ban-char-field is not a default rule");
    let cache = tree.path("target/xtask/check-cache.json");
    let written = std::fs::metadata(&cache).expect("the cache is written").modified().unwrap();
    assert_eq!(tree.check().findings(), [ACKED]);
    assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), written, "an unchanged tree rewrites nothing");

    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("[check.severity]\n", "[check.severity]\nban-char-field = \"error\"\n"));
    let run = tree.check();
    assert_eq!(run.code, 1, "a rule switched on is run on the unchanged file: {}", run.stdout);
    assert_eq!(run.findings(), [ACKED, "error:ban-char-field:20260601000000_codes.sql:1"]);

    tree.write(file, "create table public.codes (code text);\n");
    assert_eq!(tree.check().findings(), [ACKED], "the edited file's new bytes are linted");

    tree.write(file, "create table public.codes (code char(5));\n");
    std::fs::write(&cache, "{ damaged").unwrap();
    let fresh = tree.run_read_only(&["check", "--no-cache", "--format", "json"]);
    assert_eq!(tree.check().findings(), fresh.findings(), "a damaged cache is not used");
    assert_eq!(fresh.findings(), [ACKED, "error:ban-char-field:20260601000000_codes.sql:1"]);
}
