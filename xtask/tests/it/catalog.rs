//! `catalog`, `docs-refresh`, `diff` and `drift` on real databases.

use crate::support::{Tree, connect, repo_root};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

fn staging_tree() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree
}

fn with_url(url: &str) -> [(&'static str, &str); 1] {
    [(STAGING_ENV, url)]
}

#[test]
fn the_example_schema_gives_the_committed_snapshot_and_doc_byte_for_byte() {
    let tree = Tree::example();
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = String::from_utf8(tree.read("docs/database/catalog/local.json")).unwrap();
    let committed_json = std::fs::read_to_string(repo_root().join("docs/database/catalog/local.json")).unwrap();
    assert_eq!(
        json, committed_json,
        "docs/database/catalog/local.json is stale: run `cargo xtask promote` (local) and commit"
    );
    let doc = String::from_utf8(tree.read("docs/database/SCHEMA_CATALOG.LOCAL.md")).unwrap();
    expect_test::expect_file!["../../../docs/database/SCHEMA_CATALOG.LOCAL.md"].assert_eq(&doc);

    // The same schema snapshotted again is byte-identical.
    assert_eq!(tree.run(&["catalog"]).code, 0);
    assert_eq!(String::from_utf8(tree.read("docs/database/catalog/local.json")).unwrap(), json);
    let check = tree.run_read_only(&["docs-refresh", "--check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
}

#[test]
fn docs_check_fails_on_a_stale_doc_and_passes_after_refresh() {
    let tree = Tree::example();
    std::fs::create_dir_all(tree.path("docs/database/catalog")).unwrap();
    std::fs::copy(repo_root().join("docs/database/catalog/local.json"), tree.path("docs/database/catalog/local.json"))
        .unwrap();
    let committed = std::fs::read_to_string(repo_root().join("docs/database/SCHEMA_CATALOG.LOCAL.md")).unwrap();
    tree.write(
        "docs/database/SCHEMA_CATALOG.LOCAL.md",
        committed.replace("| org_id | uuid | yes |", "| org_id | uuid | no |"),
    );
    let run = tree.run_read_only(&["docs-refresh", "--check"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("-") && run.stdout.contains("| org_id | uuid | yes |"),
        "shows the difference: {}",
        run.stdout
    );
    assert!(run.stderr.contains("docs/database/SCHEMA_CATALOG.LOCAL.md is stale; regenerate it with `cargo xtask docs-refresh --target local`"), "{}", run.stderr);
    assert_eq!(tree.run(&["docs-refresh"]).code, 0);
    assert_eq!(String::from_utf8(tree.read("docs/database/SCHEMA_CATALOG.LOCAL.md")).unwrap(), committed);
    assert_eq!(tree.run_read_only(&["docs-refresh", "--check"]).code, 0);
}

#[test]
fn a_policy_changed_by_hand_is_found_by_diff_and_by_drift() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    assert_eq!(tree.run_env(&["promote", "--target", "staging", "--yes"], &with_url(&url)).code, 0);
    assert_eq!(tree.run(&["promote"]).code, 0, "local, for DEV vs PROD style diffs");
    let drift = tree.run_env(&["drift", "--target", "staging"], &with_url(&url));
    assert_eq!(drift.code, 0, "no drift yet: {}{}", drift.stdout, drift.stderr);
    // An expected difference: the local database has an extension the staging one does not.
    connect(&tree.admin_url("postgres")).batch_execute("create extension hstore").unwrap();
    assert_eq!(tree.run(&["catalog"]).code, 0);
    let queue = "[[expected]]\nkind = \"extension\"\nobject = \"hstore\"\nreason = \"local keeps hstore for a debugging view\"\n";
    tree.write("docs/database/expected-deltas.toml", queue);
    let diff = tree.run_read_only(&["diff", "local", "staging"]);
    assert_eq!(diff.code, 0, "{}{}", diff.stdout, diff.stderr);

    connect(&url).batch_execute("alter policy \"members read problems\" on public.problems using (true)").unwrap();
    let drift = tree.run_env(&["drift", "--target", "staging", "--format", "json"], &with_url(&url));
    assert_eq!(drift.code, 1, "{}", drift.stderr);
    let deltas: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(deltas.as_array().unwrap().len(), 1, "{deltas}");
    assert_eq!(deltas[0]["kind"], "policy");
    assert_eq!(deltas[0]["object"], "public.problems.\"members read problems\"");
    assert_eq!(deltas[0]["change"], "changed");
    assert!(drift.stderr.contains("cargo xtask new fix_drift_"), "{}", drift.stderr);

    assert_eq!(tree.run_env(&["catalog", "--target", "staging"], &with_url(&url)).code, 0);
    let diff = tree.run_read_only(&["diff", "local", "staging"]);
    assert_eq!(diff.code, 1);
    assert!(diff.stdout.starts_with("policy public.problems.\"members read problems\": differs\n"), "{}", diff.stdout);
    assert!(diff.stdout.contains("\"using\":\"true\""), "{}", diff.stdout);

    tree.write(
        "docs/database/expected-deltas.toml",
        format!("{queue}[[expected]]\nkind = \"policy\"\nobject = \"public.problems.*\"\nreason = \"staging opens problems to every member for the beta\"\n"),
    );
    let diff = tree.run_read_only(&["diff", "local", "staging"]);
    assert_eq!(diff.code, 0, "{}", diff.stdout);
    assert!(diff.stderr.contains("0 unexpected delta(s), 2 expected"), "{}", diff.stderr);

    tree.write(
        "docs/database/expected-deltas.toml",
        format!("{queue}[[expected]]\nkind = \"policy\"\nobject = \"public.problems.*\"\n"),
    );
    let diff = tree.run_read_only(&["diff", "local", "staging"]);
    assert_eq!(diff.code, 2);
    assert!(diff.stderr.contains("entry 2 (policy public.problems.*) has no reason"), "{}", diff.stderr);
}

#[test]
fn bad_inputs_name_the_problem_and_write_nothing() {
    let tree = staging_tree();
    // Unreachable: nothing listens on port 1.
    let run = tree.run_env(
        &["catalog", "--target", "staging"],
        &with_url("postgresql://postgres:hunter2secret@127.0.0.1:1/postgres"),
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("connecting to postgresql://postgres:***@127.0.0.1:1/postgres"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2secret"));
    assert!(!tree.path("docs/database/catalog/staging.json").exists());

    tree.db_start();
    let url = tree.create_db("staging");
    let wrong = format!("postgresql://postgres:wrongpass_planted_1234@{}", url.split('@').nth(1).unwrap());
    let run = tree.run_env(&["catalog", "--target", "staging"], &with_url(&wrong));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("password authentication failed"), "{}", run.stderr);
    assert!(!run.stderr.contains("wrongpass_planted_1234"), "{}", run.stderr);
    assert!(!tree.path("docs/database/catalog/staging.json").exists());

    std::fs::create_dir_all(tree.path("docs/database/catalog")).unwrap();
    tree.write("docs/database/catalog/local.json", "{\"head\": \"1\", \"tables\": 7}\n");
    let run = tree.run_read_only(&["docs-refresh"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("docs/database/catalog/local.json is not a catalog snapshot; regenerate it with `cargo xtask catalog --target local`"), "{}", run.stderr);
    assert!(!tree.path("docs/database/SCHEMA_CATALOG.LOCAL.md").exists());

    let run = tree.run_read_only(&["docs-refresh", "--target", "prod"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("docs/database/catalog/prod.json is missing; create it with `cargo xtask catalog --target prod`"),
        "{}",
        run.stderr
    );
}
