//! The embedded database as the disposable thing it is: where its history and the files disagree only in files no
//! protected target has applied (a `fix`, a comment, a branch switch), every message says so and names
//! `cargo xtask db reset`; `status --live` names what breaks the push before it compares anything.

use crate::support::{PENDING_FILE, Tree};

const DISPOSABLE: &str = "the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`";

/// The example promoted to the embedded default: every file run, prod's recorded head before most of them.
fn promoted() -> Tree {
    let tree = Tree::example();
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    tree
}

#[test]
fn a_statement_changed_after_the_embedded_database_ran_it_is_a_db_reset() {
    let tree = promoted();
    let text = String::from_utf8(tree.read(PENDING_FILE)).unwrap();
    tree.write(
        PENDING_FILE,
        text.replacen("create table public.contact_tags", "create table if not exists public.contact_tags", 1),
    );
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let file = "20260513124500_ce08_enhancements_schema_foundation.sql";
    assert!(
        run.stderr.contains(&format!("promote: refused, nothing pushed: {file} differs from what local ran")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("no protected target has applied {file}, so only the embedded database ran the earlier text (after a `fix`, a comment or a branch switch): {DISPOSABLE}")),
        "{}",
        run.stderr
    );
    let status = tree.run(&["status", "--live"]);
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert!(!status.stdout.contains("up to date"), "{}", status.stdout);
    assert!(status.stdout.contains(DISPOSABLE), "{}", status.stdout);

    let run = tree.run(&["db", "reset"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "what the message said fixes it: {}{}", run.stdout, run.stderr);
}

#[test]
fn a_file_the_embedded_database_ran_is_gone_after_a_branch_switch() {
    let tree = promoted();
    tree.remove("migrations/20260513175000_permissions_sync_pf30_nav_permission_backfill.sql");
    let status = tree.run(&["status", "--live"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(!status.stdout.contains("up to date"), "{}", status.stdout);
    assert!(
        status.stdout.contains("LOCAL: nothing pending after the head, but its live history does not match (below)."),
        "{}",
        status.stdout
    );
    let said = format!(
        "the embedded database ran migration(s) 20260513175000 that no file here has, and no protected target has applied them (a branch switch, or a file renamed or deleted since): {DISPOSABLE}"
    );
    assert!(status.stdout.contains(&said), "{}", status.stdout);
    assert!(!status.stdout.contains("merge them into this branch"), "{}", status.stdout);
    let run = tree.run(&["promote", "--dry-run"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("promote: refused, nothing pushed: {said}")), "{}", run.stderr);
}

#[test]
fn a_second_file_of_an_applied_version_is_named_before_any_comparison() {
    let tree = promoted();
    tree.write("migrations/20260513132700_second.sql", "create table public.second (id int);\n");
    let status = tree.run(&["status", "--live"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    let first = status.stderr.lines().next().unwrap_or_default();
    assert!(first.contains(": error[duplicate-version]: version 20260513132700 is also used by"), "{}", status.stderr);
    assert!(
        status.stderr.contains("migrations/20260513132700_second.sql: error[duplicate-version]"),
        "{}",
        status.stderr
    );
    assert!(!status.stdout.contains("differs from what local ran"), "{}", status.stdout);
    assert!(!status.stdout.contains("up to date"), "{}", status.stdout);
    assert!(
        status.stdout.contains("Live: not compared with the database: 2 finding(s) break the push"),
        "{}",
        status.stdout
    );
    assert!(
        status.stderr.contains(
            "status: 2 finding(s) break the push (duplicate-version), so local's live history was not compared"
        ),
        "{}",
        status.stderr
    );
    let json = tree.run(&["status", "--live", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["findings"][0]["code"], "duplicate-version", "{doc}");
    assert_eq!(doc["live"]["matches"], false, "{doc}");
}
