//! `reconcile`, with the real CLI against a real server: each disagreement between a target's history and the
//! files repaired history only (a rename, a lock record, a history row written as the CLI writes it, an adopted
//! file), or refused with nothing written; a second applier named by `status --live` and `promote`, never taken
//! for an interrupted promotion of ours; an interrupted reconcile leaves the history as it was.

use std::process::Command;

use crate::support::{Tree, Watched, commit_all, connect, versions, wait_for_statement};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const HOTFIX: &str = "migrations/20260601000000_hotfix_notes.sql";
const HOTFIX_SQL: &str = "-- The support team's notes, read by no one else.\ncreate table public.hotfix_notes (id bigint primary key, note text);\nalter table public.hotfix_notes enable row level security;\nrevoke all on public.hotfix_notes from anon, authenticated;\n";
/// How the CLI stores HOTFIX_SQL's statements (comments kept, `;` and the trailing newline dropped).
const HOTFIX_STATEMENTS: [&str; 3] = [
    "-- The support team's notes, read by no one else.\ncreate table public.hotfix_notes (id bigint primary key, note text)",
    "alter table public.hotfix_notes enable row level security",
    "revoke all on public.hotfix_notes from anon, authenticated",
];

/// The example with a `staging` target (a URL, not protected) at the example's last version, committed.
fn staging_at_the_end() -> (Tree, String) {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree.db_start();
    let url = tree.create_db("staging");
    let run = tree.run_env(&["promote", "--target", "staging", "--yes", "--skip-catalog"], &[(STAGING_ENV, &url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit_all(&tree);
    (tree, url)
}

fn run(tree: &Tree, url: &str, args: &[&str]) -> crate::support::Run {
    tree.run_env(args, &[(STAGING_ENV, url)])
}

fn reconcile_records(tree: &Tree) -> Vec<serde_json::Value> {
    let dir = tree.path("docs/database/promotions");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-staging-reconcile.json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
}

fn lock_head(tree: &Tree) -> String {
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    let at = lock.find("[targets.staging]\nhead = \"").unwrap() + "[targets.staging]\nhead = \"".len();
    lock[at..at + 14].to_string()
}

/// The history rows as (version, name, statements).
fn rows(url: &str) -> Vec<(String, String, Vec<String>)> {
    connect(url)
        .query(
            "select version, coalesce(name, ''), coalesce(statements, '{}') from supabase_migrations.schema_migrations order by 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// What the dashboard's SQL editor or an assistant's `apply_migration` leaves: the DDL run, and a history row
/// under a timestamp of its own.
fn applied_by_the_dashboard(url: &str, version: &str, name: &str) {
    let mut client = connect(url);
    client.batch_execute(HOTFIX_SQL).unwrap();
    let statements: Vec<String> = HOTFIX_STATEMENTS.iter().map(|s| s.to_string()).collect();
    client
        .execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
            &[&version, &name, &statements],
        )
        .unwrap();
}

#[test]
fn a_file_the_dashboard_ran_under_its_own_timestamp_is_renamed_to_it_and_then_up_to_date() {
    let (tree, url) = staging_at_the_end();
    tree.write(HOTFIX, HOTFIX_SQL);
    crate::support::commit(&tree, "hotfix");
    applied_by_the_dashboard(&url, "20260601093015", "hotfix_notes_from_the_editor");

    // What the Supabase CLI would say ("Remote migration versions not found in local migrations directory"),
    // here with the command that finds out.
    let status = run(&tree, &url, &["status", "--target", "staging", "--live"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(
        status.stdout.contains("the target has migration(s) 20260601093015 that no file here has (pushed from another branch, or by hand): merge them into this branch first, or let `cargo xtask reconcile` compare what ran with the files"),
        "{}",
        status.stdout
    );

    let before = tree.contents();
    let rows_before = rows(&url);
    let dry = run(&tree, &url, &["reconcile", "--target", "staging", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    expect_test::expect![[r#"
        20260601093015 `hotfix_notes_from_the_editor` is on staging but no file here has it
          evidence: its statements equal migrations/20260601000000_hotfix_notes.sql's (fingerprint 6b20e0a43886, whitespace and `;` aside, as `promote` compares)
          repair: rename migrations/20260601000000_hotfix_notes.sql to migrations/20260601093015_hotfix_notes_from_the_editor.sql (history only: the target keeps its row)
    "#]]
    .assert_eq(&dry.stdout);
    assert_eq!(tree.contents(), before, "a dry run writes nothing");

    let fixed = run(&tree, &url, &["reconcile", "--target", "staging", "--yes"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    assert!(!tree.path(HOTFIX).exists());
    let renamed = "migrations/20260601093015_hotfix_notes_from_the_editor.sql";
    assert_eq!(tree.read(renamed), HOTFIX_SQL.as_bytes(), "only the name changed");
    assert_eq!(lock_head(&tree), "20260601093015");
    assert_eq!(rows(&url), rows_before, "nothing was written to the target");
    let record = reconcile_records(&tree).pop().unwrap();
    assert_eq!(record["outcome"], "reconciled");
    assert_eq!(record["renamed"], serde_json::json!([[HOTFIX, renamed]]));
    assert_eq!(record["recorded"], serde_json::json!(["20260601093015_hotfix_notes_from_the_editor.sql"]));
    assert_eq!(record["found"][0]["repair"]["kind"], "rename");
    let by = record["by"].as_str().unwrap();
    let named =
        ["(GITHUB_ACTOR)", "(git)", "(OS user)"].iter().any(|from| by.ends_with(from) && by.len() > from.len() + 1);
    assert!(named, "who reconciled, and where that came from: {by}");

    crate::support::commit(&tree, "reconciled");
    let status = run(&tree, &url, &["status", "--target", "staging", "--live"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let promote = run(&tree, &url, &["promote", "--target", "staging", "--yes", "--skip-catalog"]);
    assert_eq!(promote.code, 0, "{}{}", promote.stdout, promote.stderr);
    assert!(promote.stdout.contains("staging is up to date at 20260601093015: nothing to push."), "{}", promote.stdout);
}

/// The real CLI pushing the tree's files, as the platform's GitHub integration does on a merge.
fn pushed_by_another_tool(tree: &Tree, url: &str) {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path().join("supabase/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(tree.path("migrations")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let cli = crate::support::repo_root().join("node_modules/.bin/supabase");
    let out = Command::new(cli)
        .arg("--workdir")
        .arg(workdir.path())
        .args(["db", "push", &format!("--remote={url}"), "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_second_applier_is_named_by_status_and_promote_never_absorbed_and_reconcile_records_it() {
    let (tree, url) = staging_at_the_end();
    tree.write(HOTFIX, HOTFIX_SQL);
    crate::support::commit(&tree, "hotfix");
    pushed_by_another_tool(&tree, &url);
    let lock_before = tree.read("migrations/promotion.lock");

    let unrecorded = "20260601000000 `hotfix_notes` is on staging but no promotion recorded it (applied by another tool: the dashboard, the SQL editor, an assistant's apply_migration, the platform's GitHub integration?): `cargo xtask reconcile --target staging` compares what ran with the files and records it";
    let status = run(&tree, &url, &["status", "--target", "staging", "--live"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.contains(unrecorded), "{}", status.stdout);
    let promote = run(&tree, &url, &["promote", "--target", "staging", "--yes", "--skip-catalog"]);
    assert_eq!(promote.code, 1, "{}{}", promote.stdout, promote.stderr);
    assert!(promote.stderr.contains(unrecorded), "{}", promote.stderr);
    assert_eq!(tree.read("migrations/promotion.lock"), lock_before, "nothing absorbed as `reconciled`");

    let fixed = run(&tree, &url, &["reconcile", "--target", "staging", "--yes", "--format", "json"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    let json: serde_json::Value = serde_json::from_str(&fixed.stdout).unwrap();
    assert_eq!(
        json["found"][0]["repair"],
        serde_json::json!({"kind": "record", "file": "20260601000000_hotfix_notes.sql", "by": "another-tool"})
    );
    assert_eq!(json["head_after"], "20260601000000");
    assert_eq!(lock_head(&tree), "20260601000000");
    crate::support::commit(&tree, "reconciled");
    let status = run(&tree, &url, &["status", "--target", "staging", "--live"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
}

/// A file run by hand (the DDL, no history row), as a hotfix is.
fn run_by_hand(url: &str, sql: &str) {
    connect(url).batch_execute(sql).unwrap();
}

#[test]
fn ddl_run_by_hand_is_proven_on_a_shadow_and_its_history_row_written_as_the_cli_writes_it() {
    let (tree, url) = staging_at_the_end();
    tree.write(HOTFIX, HOTFIX_SQL);
    crate::support::commit(&tree, "hotfix");

    // Part of it only: the comparison names what differs, and nothing is written.
    run_by_hand(&url, "create table public.hotfix_notes (id bigint primary key, note text);");
    let before = (tree.contents(), rows(&url));
    let partial = run(&tree, &url, &["reconcile", "--target", "staging", "--yes"]);
    assert_eq!(partial.code, 1, "{}{}", partial.stdout, partial.stderr);
    assert!(
        partial
            .stdout
            .contains("refused (unproven): staging holds part of what migrations/20260601000000_hotfix_notes.sql does"),
        "{}",
        partial.stdout
    );
    assert!(partial.stdout.contains("evidence: relation public.hotfix_notes"), "{}", partial.stdout);
    assert_eq!((tree.contents(), rows(&url)), before, "nothing written to the tree or the target");

    run_by_hand(
        &url,
        "alter table public.hotfix_notes enable row level security; revoke all on public.hotfix_notes from anon, authenticated;",
    );
    let fixed = run(&tree, &url, &["reconcile", "--target", "staging", "--yes"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    assert!(fixed.stdout.contains("migrations/20260601000000_hotfix_notes.sql is pending, but its effect is on staging with no history row (run by hand?)"), "{}", fixed.stdout);
    let last = rows(&url).pop().unwrap();
    assert_eq!(
        last,
        ("20260601000000".into(), "hotfix_notes".into(), HOTFIX_STATEMENTS.iter().map(|s| s.to_string()).collect())
    );
    assert_eq!(lock_head(&tree), "20260601000000");
    let record = reconcile_records(&tree).pop().unwrap();
    assert_eq!(record["history_written"], serde_json::json!(["20260601000000"]));
    assert_eq!(record["history_through"], "supabase migration repair --status applied (CLI 3.1.0)");

    crate::support::commit(&tree, "reconciled");
    let status = run(&tree, &url, &["status", "--target", "staging", "--live"]);
    assert_eq!(status.code, 0, "statement for statement: {}{}", status.stdout, status.stderr);
    let promote = run(&tree, &url, &["promote", "--target", "staging", "--yes", "--skip-catalog"]);
    assert_eq!(promote.code, 0, "not run twice: {}{}", promote.stdout, promote.stderr);
}

#[test]
fn a_file_that_writes_data_is_never_proven() {
    let (tree, url) = staging_at_the_end();
    let sql =
        "create table public.hotfix_flags (name text primary key);\ninsert into public.hotfix_flags values ('beta');\n";
    tree.write("migrations/20260601000000_hotfix_flags.sql", sql);
    crate::support::commit(&tree, "hotfix");
    run_by_hand(&url, "create table public.hotfix_flags (name text primary key);");
    let before = (tree.contents(), rows(&url));
    let refused = run(&tree, &url, &["reconcile", "--target", "staging", "--yes", "--format", "json"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let json: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(json["refusal"], "no_safe_repair");
    let evidence = json["found"][0]["evidence"].to_string();
    assert!(evidence.contains("INSERT at line 2"), "{evidence}");
    assert_eq!((tree.contents(), rows(&url)), before, "nothing written to the tree or the target");
}

#[test]
fn statements_no_file_has_are_refused_beside_the_nearest_file_and_adopted_on_request() {
    let (tree, url) = staging_at_the_end();
    tree.write(HOTFIX, HOTFIX_SQL);
    crate::support::commit(&tree, "hotfix");
    // The editor ran another text (RLS left off) under its own timestamp.
    let mut client = connect(&url);
    client.batch_execute("create table public.hotfix_notes (id bigint primary key, note text);").unwrap();
    let statements = vec!["create table public.hotfix_notes (id bigint primary key, note text)".to_string()];
    client
        .execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements) values ('20260601093015', 'notes', $1)",
            &[&statements],
        )
        .unwrap();
    let before = (tree.contents(), rows(&url));
    let refused = run(&tree, &url, &["reconcile", "--target", "staging", "--yes"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    expect_test::expect![[r#"
        20260601093015 `notes` is on staging but no file here has it
          evidence: nearest file: migrations/20260601000000_hotfix_notes.sql, which differs at statement 2: the target ran (nothing more), the file has `alter table public.hotfix_notes enable row level security`
          refused (statements_differ): review what ran and make it a file: `cargo xtask reconcile --target staging --adopt 20260601093015` writes `migrations/20260601093015_notes.sql` from the stored statements
    "#]].assert_eq(&refused.stdout);
    assert_eq!((tree.contents(), rows(&url)), before, "nothing written to the tree or the target");

    // Adopted: the file says what ran. The pending hotfix sorts before it and no target applied it: it moves after.
    let adopted = run(&tree, &url, &["reconcile", "--target", "staging", "--yes", "--adopt", "20260601093015"]);
    assert_eq!(adopted.code, 0, "{}{}", adopted.stdout, adopted.stderr);
    assert_eq!(
        String::from_utf8(tree.read("migrations/20260601093015_notes.sql")).unwrap(),
        "create table public.hotfix_notes (id bigint primary key, note text);\n"
    );
    assert_eq!(lock_head(&tree), "20260601093015");
    assert!(!tree.path(HOTFIX).exists(), "the pending file was renumbered after what ran");
    // It creates what the adopted file created: not proven, and said.
    assert!(
        adopted.stderr.contains("_hotfix_notes.sql does not apply on a shadow at the new head, so it is not proven"),
        "{}",
        adopted.stderr
    );
}

#[test]
fn an_interrupted_reconcile_leaves_the_history_as_it_was_and_a_rerun_repairs_it() {
    let (tree, url) = staging_at_the_end();
    tree.write(HOTFIX, HOTFIX_SQL);
    crate::support::commit(&tree, "hotfix");
    run_by_hand(&url, HOTFIX_SQL);
    let before = (tree.contents(), rows(&url));
    // The history table held, so the CLI's write waits inside its transaction when the signal comes.
    let mut held = connect(&url);
    held.batch_execute("begin; lock table supabase_migrations.schema_migrations in exclusive mode").unwrap();
    let mut cmd = crate::support::xtask();
    cmd.arg("--repo").arg(tree.dir.path()).args(["reconcile", "--target", "staging", "--yes"]).env(STAGING_ENV, &url);
    use std::os::unix::process::CommandExt;
    let child =
        cmd.process_group(0).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let xtask = Watched::of(child);
    wait_for_statement(&url, "INSERT INTO supabase_migrations.schema_migrations");
    let status = Command::new("kill").args(["-INT", "--", &format!("-{}", xtask.pid())]).status().unwrap();
    assert!(status.success());
    // The xtask ends (the CLI ended with the group, the history read back) while the table is still held, so the
    // CLI's transaction can never go on to commit whatever the machine's load.
    let out = xtask.finish();
    held.batch_execute("rollback").unwrap();
    assert_eq!(out.code, 130, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the history, the files and the lock are as they were"), "{}", out.stderr);
    assert_eq!((tree.contents(), rows(&url)), before, "as it was");

    let rerun = run(&tree, &url, &["reconcile", "--target", "staging", "--yes"]);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260601000000"));
}
