//! `fix --renumber`: an out-of-order file (a late merge) gets a version after every head, keeping its name and
//! SQL; `check` is then clean, and the promotion builds the schema the file's own order would have built.

use crate::support::{PROD_HEAD, Tree, commit_all, connect, prod_at_its_head, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const LATE: &str = "migrations/20260401000000_late_arrival.sql";
const LATE_SQL: &str = "create table public.late_arrival (id bigint primary key, note text);\nalter table public.late_arrival enable row level security;\nrevoke all on public.late_arrival from anon, authenticated;\n";

#[test]
fn an_out_of_order_file_renumbered_passes_check_and_promotes_to_the_schema_its_order_built() {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    let prod = prod_at_its_head(&tree, STAGING_ENV);
    tree.write(LATE, LATE_SQL);

    let run = tree.check();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "give it a version after the heads, keeping its name and SQL: `cargo xtask fix --renumber {LATE}`"
        )),
        "{}",
        run.stdout
    );

    // A dry run says what it would do and changes nothing.
    let before = tree.contents();
    let run = tree.run(&["fix", "--renumber", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with(&format!("fix --renumber: would rename {LATE} to ")), "{}", run.stdout);
    assert!(run.stdout.ends_with("fix --renumber: 1 file(s) (dry run: nothing renamed)\n"), "{}", run.stdout);
    assert_eq!(tree.contents(), before, "a dry run renames nothing");

    // The embedded database ran it before a merge moved prod's head past it (as its history says).
    connect(&tree.admin_url("postgres"))
        .batch_execute(
            "create schema if not exists supabase_migrations;
             create table if not exists supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
             insert into supabase_migrations.schema_migrations values ('20260401000000', null, 'late_arrival');",
        )
        .unwrap();
    let run = tree.run(&["fix", "--renumber"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "warning: the embedded database ran {LATE} under its old version; it is disposable: `cargo xtask db reset` rebuilds it from the files\n"
        )
    );
    let renamed = renamed_to(&tree);
    assert_eq!(
        run.stdout,
        format!(
            "fix --renumber: renamed {LATE} to migrations/{renamed} (it sorted at or before prod (head {PROD_HEAD}), staging (head {PROD_HEAD}))\nfix --renumber: 1 file(s); run `cargo xtask check`\n"
        )
    );
    let version = &renamed[..14];
    assert!(version > PROD_HEAD && renamed.ends_with("_late_arrival.sql"), "{renamed}");
    assert!(!tree.path(LATE).exists());
    assert_eq!(tree.read(&format!("migrations/{renamed}")), LATE_SQL.as_bytes(), "only the name changed");
    let run = tree.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
    // Nothing left out of order: a second run renames nothing.
    let run = tree.run(&["fix", "--renumber"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "fix --renumber: no file is out of order\n"));

    commit_all(&tree);
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &[("PROD_DB_URL", prod.as_str())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&prod).last().map(String::as_str), Some(version));
    let run = tree.run_env(&["catalog", "--target", "prod"], &[("PROD_DB_URL", prod.as_str())]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // The same files in their first order, on a database no head constrains (another checkout, no lock).
    let original = Tree::example();
    original.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    original.remove("migrations/promotion.lock");
    original.write(LATE, LATE_SQL);
    let fresh = tree.create_db("first_order");
    let run = original.run_env(&["promote", "--target", "staging", "--yes"], &[(STAGING_ENV, fresh.as_str())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = original.run_env(&["catalog", "--target", "staging"], &[(STAGING_ENV, fresh.as_str())]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first_order = original.path("docs/database/catalog/staging.json");
    let diff = tree.run_read_only(&["diff", first_order.to_str().unwrap(), "prod"]);
    assert_eq!(diff.code, 0, "the renumbered promotion built another schema:\n{}{}", diff.stdout, diff.stderr);
}

#[test]
fn a_file_a_target_applied_is_never_renumbered_and_nothing_moves() {
    let tree = Tree::example();
    tree.write(LATE, LATE_SQL);
    // A promotion record says prod applied it, though the lock lost it (a merge dropped the line).
    let late = LATE.trim_start_matches("migrations/");
    tree.write(
        "docs/database/promotions/2026-05-13T180000Z-prod.json",
        format!(r#"{{"target": "prod", "applied": ["{late}"], "reconciled": []}}"#),
    );
    let before = tree.contents();
    let run = tree.run(&["fix", "--renumber"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    expect_test::expect![[r#"
        fix --renumber: nothing renamed:
          - migrations/20260401000000_late_arrival.sql: applied on prod (its promotion record says so) although migrations/promotion.lock does not record it: its version is history there. See `cargo xtask status --target prod --live`
    "#]]
    .assert_eq(&run.stderr);
    assert_eq!(tree.contents(), before);

    // Named, an applied file and one in order are refused too, each by name.
    let run = tree.run(&["fix", "--renumber", crate::support::HEAD_FILE, crate::support::PENDING_FILE]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    expect_test::expect![[r#"
        fix --renumber: nothing renamed:
          - migrations/20260512220528_nav_items_and_permissions.sql: applied (migrations/promotion.lock records it), so its version is history and never changes
          - migrations/20260513124500_ce08_enhancements_schema_foundation.sql: sorts after every recorded head, so it is not out of order: nothing to renumber
    "#]]
    .assert_eq(&run.stderr);
    let run = tree.run(&["fix", "--renumber", "migrations/nope.sql"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("migrations/nope.sql: not a migration in migrations/"), "{}", run.stderr);
    assert_eq!(tree.contents(), before);
}

/// The late file's new name.
fn renamed_to(tree: &Tree) -> String {
    std::fs::read_dir(tree.path("migrations"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_string))
        .find(|name| name.ends_with("_late_arrival.sql"))
        .unwrap()
}
