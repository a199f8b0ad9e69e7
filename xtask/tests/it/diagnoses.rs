//! What `promote` says about files the CLI cannot push as they are agrees with `check`, on every target, and
//! every command it suggests is valid as printed.

use crate::support::{Tree, versions};

#[test]
fn two_files_with_one_version_stop_even_the_embedded_target() {
    let tree = Tree::example();
    let url = tree.db_start();
    tree.write("migrations/20261202011000_dup.sql", "create table public.dup_a (id int);\n");
    tree.write("migrations/20261202011000_dup_two.sql", "create table public.dup_b (id int);\n");
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("error[duplicate-version]"), "{}", run.stderr);
    assert!(run.stderr.contains("would make the push itself fail"), "{}", run.stderr);
    assert!(versions(&url).is_empty(), "nothing pushed");
}

#[test]
fn a_new_file_sorting_before_the_head_is_out_of_order_not_a_wrong_database() {
    let tree = Tree::example();
    let url = tree.db_start();
    tree.write("migrations/20261202011000_late.sql", "create table public.late (id int);\n");
    assert_eq!(tree.run(&["promote"]).code, 0);
    // Before prod's recorded head, `check` already says it (out-of-order), before any comparison with a database;
    // after it but before this database's own head, the live history does. A short version sorts by its digits as
    // text: `20261202` comes before `20261202011000`.
    let cases = [
        (
            "20260101000000_AddThing.sql",
            "error[out-of-order]: not applied, but its version is at or before the recorded head of prod",
            "`cargo xtask fix --renumber migrations/20260101000000_AddThing.sql`",
        ),
        // Out of order on the embedded database only, which is disposable.
        (
            "20261202_add_thing2.sql",
            "20261202_add_thing2.sql sorts before the embedded database's head 20261202011000 but it never ran it",
            "`cargo xtask db reset`",
        ),
    ];
    for (file, said, fix) in cases {
        tree.write(&format!("migrations/{file}"), "create table public.thing (id int);\n");
        let run = tree.run(&["promote"]);
        assert_eq!(run.code, 1, "{file}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(said), "{file}: {}", run.stderr);
        assert!(run.stderr.contains(fix), "{file}: {}", run.stderr);
        assert!(!run.stderr.contains("wrong database"), "{file}: {}", run.stderr);
        tree.remove(&format!("migrations/{file}"));
    }
    assert_eq!(versions(&url).len(), 24, "nothing more pushed");
}

#[test]
fn status_live_in_json_says_why_the_history_could_not_be_read() {
    let tree = Tree::example();
    tree.append("xtask.toml", "\n[targets.gone]\ndb_url_env = \"XTASK_GONE_URL\"\n");
    let run = tree.run_env(
        &["status", "--target", "gone", "--live", "--format", "json"],
        &[("XTASK_GONE_URL", "postgresql://u:secretpw@127.0.0.1:1/db")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(json["live"]["matches"], false);
    assert!(
        json["live"]["error"].as_str().unwrap().contains("connecting to postgresql://u:***@127.0.0.1:1/db"),
        "{json}"
    );
    assert!(!run.stdout.contains("secretpw") && !run.stderr.contains("secretpw"), "the password stays hidden");
}

#[test]
fn status_names_a_url_target_as_one_and_not_as_local() {
    let tree = Tree::example();
    let run = tree.run(&["status", "--target", "dev"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("Target: dev (reached by URL)\n"), "{}", run.stdout);
}
