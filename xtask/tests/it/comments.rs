//! Comments are not statements: an applied file whose comments were added or edited is what the database ran,
//! on a URL target as on any other; a changed statement is refused, the database's and the file's both shown.

use crate::support::{APPLIED_FILE, Tree, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

fn staging_tree() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree
}

#[test]
fn a_comment_edited_in_an_applied_file_is_no_difference_a_changed_statement_is() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let env = [(STAGING_ENV, url.as_str())];
    let run = tree.run_env(&["promote", "--target", "staging", "--yes"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let applied = versions(&url);
    let original = String::from_utf8(tree.read(APPLIED_FILE)).unwrap();

    // An acknowledgement added on top, a comment reworded, one added after a statement.
    let commented = format!("-- xtask: ack destructive: reviewed again\n{original}")
        .replace("-- Known gap (fixed in cl46)", "-- A known gap (fixed in cl46)")
        .replace("on public.problems (org_id, status);", "on public.problems (org_id, status); -- the board's filter");
    tree.write(APPLIED_FILE, &commented);
    let status = tree.run_env(&["status", "--target", "staging", "--live"], &env);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.contains("It matches the recorded head, statement for statement."), "{}", status.stdout);
    let run = tree.run_env(&["promote", "--target", "staging", "--yes"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("staging is up to date at"), "{}", run.stdout);

    // A statement changed: refused, each side on a line of its own.
    tree.write(APPLIED_FILE, original.replace("title text not null,", "title text not null unique,"));
    let differs = "20260202141500_problems.sql differs from what staging ran: statement 1 differs:\n    \
        the database ran: … cascade, title text not null, details text not null default '', status text not null default 'open' check (status in …\n    \
        the file has:     … cascade, title text not null unique, details text not null default '', status text not null default 'open' check …";
    let status = tree.run_env(&["status", "--target", "staging", "--live"], &env);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.contains(differs), "{}", status.stdout);
    let run = tree.run_env(&["promote", "--target", "staging", "--yes", "--format", "json"], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.refusal().as_deref(), Some("history_mismatch"));
    assert!(run.stderr.contains(&format!("promote: refused, nothing pushed: {differs}")), "{}", run.stderr);
    assert_eq!(versions(&url), applied, "nothing pushed");
}
