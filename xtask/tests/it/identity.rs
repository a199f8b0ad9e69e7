//! The wrong-thing and wrong-database guard, end to end on a real server with the real CLI: the bytes reviewed
//! are the bytes pushed, a target is the database it was first promoted at, two names for one database must
//! agree, and what a database ran is compared with the files.

use crate::support::{Tree, commit, commit_all, connect, example_versions, prod_at_its_head, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const REF: &str = "srcaoozjkrughebmbvfb";

fn staging_tree() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree
}

/// Statements the database stored for `version`.
fn stored(url: &str, version: &str) -> Vec<String> {
    let sql = "select statements from supabase_migrations.schema_migrations where version = $1";
    connect(url).query_one(sql, &[&version]).unwrap().get(0)
}

#[test]
fn a_batch_file_edited_during_the_rehearsal_pushes_the_reviewed_bytes() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    let slow = "migrations/20260601000000_reviewed.sql";
    let reviewed = "select pg_sleep(2);\ncreate table public.reviewed (id int);\n-- xtask: ack exposure: a test table, open on purpose\n";
    tree.write(slow, reviewed);
    commit_all(&tree);
    let child = crate::support::spawn(
        &tree,
        &["promote", "--target", "prod", "--yes", "--skip-catalog"],
        &[("PROD_DB_URL", &url)],
    );
    // The rehearsal runs the slow file on a local shadow first: edit it on disk while it does.
    crate::support::wait_for_statement(&tree.admin_url("postgres"), "select pg_sleep(2)");
    tree.write(slow, "create table public.edited (id int);\n");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("20260601000000_reviewed.sql changed on disk during this promotion"), "{stderr}");
    assert_eq!(
        stored(&url, "20260601000000"),
        [
            "select pg_sleep(2)",
            "create table public.reviewed (id int)",
            "-- xtask: ack exposure: a test table, open on purpose"
        ]
    );
    let tables: i64 = connect(&url)
        .query_one("select count(*) from pg_tables where tablename in ('reviewed', 'edited')", &[])
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "only the reviewed table exists");
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    let checksum = xtask::domain::history::migrations::checksum(reviewed.as_bytes());
    assert!(lock.contains(&format!("\"20260601000000_reviewed.sql\" = \"{checksum}\"")), "{lock}");
}

#[test]
fn a_target_pinned_at_one_database_refuses_another_until_repinned() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    commit_all(&tree);
    let run = tree.run_env(&["promote", "--target", "prod", "--yes", "--skip-catalog"], &[("PROD_DB_URL", &url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    assert!(lock.contains(&format!("[targets.prod.identity]\nproject = \"{REF}\"")), "pinned: {lock}");
    assert!(lock.contains("\nserver = \""), "with the server's own identity: {lock}");
    commit(&tree, "promoted");

    // PROD_DB_URL now names another database (a copy at the same head would still be another database).
    let elsewhere = tree.create_db("elsewhere");
    let env = [("PROD_DB_URL", elsewhere.as_str())];
    let status = tree.run_env(&["status", "--target", "prod", "--live"], &env);
    assert_eq!(status.code, 2, "{}{}", status.stdout, status.stderr);
    let said = format!("$PROD_DB_URL now points at project {REF} (server ");
    assert!(status.stderr.contains(&said), "{}", status.stderr);
    assert!(status.stderr.contains(&format!("prod was promoted at project {REF} (server ")), "{}", status.stderr);
    let before = tree.contents();
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &env);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("re-pin it: `cargo xtask promote --target prod --repin"), "{}", run.stderr);
    assert!(versions(&elsewhere).is_empty(), "nothing pushed");
    assert_eq!(tree.contents(), before, "nothing written");

    // Production moved for real (restored into a new database): re-pinned, with the reason on record.
    connect(&tree.admin_url("postgres")).batch_execute("create database moved template prod").unwrap();
    let moved = url.replace("/prod", "/moved");
    let run = tree.run_env(
        &["promote", "--target", "prod", "--yes", "--skip-catalog", "--repin", "restored into a new database"],
        &[("PROD_DB_URL", moved.as_str())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("prod is up to date"), "{}", run.stdout);
    assert!(run.stderr.contains(&format!("re-pinning prod: from project {REF} (server ")), "{}", run.stderr);
    assert_eq!(versions(&moved), example_versions());
    let record = std::fs::read_dir(tree.path("docs/database/promotions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-prod.json"))
        .max()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    assert!(record["repinned"].as_str().unwrap().ends_with(": restored into a new database"), "{record}");
    commit(&tree, "re-pinned");
    let run = tree.run_env(&["status", "--target", "prod", "--live"], &[("PROD_DB_URL", moved.as_str())]);
    assert_eq!(run.code, 0, "the new database is the pinned one: {}", run.stderr);

    // A dropped and recreated database of the same name is another database too.
    connect(&tree.admin_url("postgres")).batch_execute("drop database moved with (force)").unwrap();
    tree.create_db("moved");
    let run = tree.run_env(&["status", "--target", "prod", "--live"], &[("PROD_DB_URL", moved.as_str())]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("now points at project {REF} (server ")), "{}", run.stderr);
}

#[test]
fn two_names_for_one_database_are_refused_unless_they_agree() {
    let tree = Tree::example();
    // The same project ref under a second name, unprotected.
    tree.append("xtask.toml", &format!("\n[targets.alias]\nproject_ref = \"{REF}\"\n"));
    let run = tree.run(&["status", "--target", "alias"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let said = format!("targets `alias` and `prod` are one database (project {REF}) but only one is protected");
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    let run = tree.run(&["promote", "--target", "alias", "--dry-run"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // Protected too, but without prod's recorded head.
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("[targets.alias]\n", "[targets.alias]\nprotected = true\n"));
    let run = tree.run(&["status", "--target", "alias"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("record different heads (none and 20260512220528)"), "{}", run.stderr);

    // A URL naming the project by its pooler user, or by its direct host, is prod too.
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write(
        "xtask.toml",
        config.replace(&format!("protected = true\nproject_ref = \"{REF}\"\n"), "db_url_env = \"ALIAS_URL\"\n"),
    );
    for url in [
        format!("postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres"),
        format!("postgresql://postgres:pw@db.{REF}.supabase.co:5432/postgres"),
    ] {
        let run = tree.run_env(&["status", "--target", "alias"], &[("ALIAS_URL", url.as_str())]);
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(run.stderr.contains(&said), "{url}: {}", run.stderr);
    }

    // Two URL targets naming one server and database.
    let staged = staging_tree();
    let url = staged.db_start();
    staged.append("xtask.toml", "\n[targets.twin]\ndb_url_env = \"TWIN_URL\"\nprotected = true\n");
    let run =
        staged.run_env(&["status", "--target", "staging"], &[(STAGING_ENV, url.as_str()), ("TWIN_URL", url.as_str())]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("targets `staging` and `twin` are one database (database 127.0.0.1:"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_database_under_two_host_names_is_known_by_its_server() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("shared");
    crate::support::bring_to_head(&tree, STAGING_ENV, &url);
    // `twin` reaches the database staging was pinned at, by another host name: configured places differ.
    tree.append("xtask.toml", "\n[targets.twin]\ndb_url_env = \"TWIN_URL\"\n");
    let twin = url.replacen("@127.0.0.1:", "@localhost:", 1);
    assert_ne!(twin, url);
    let env = [("TWIN_URL", twin.as_str())];
    let names_both = "targets `twin` and `staging` are one database (database localhost:";
    let before = tree.contents();
    let run = tree.run_env(&["promote", "--target", "twin", "--yes", "--skip-catalog"], &env);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(names_both), "{}", run.stderr);
    assert!(run.stderr.contains("as `staging` was pinned in migrations/promotion.lock; server "), "{}", run.stderr);
    assert!(run.stderr.contains("record different heads (none and 20260512220528)"), "{}", run.stderr);
    assert_eq!(versions(&url).len(), 9, "nothing pushed");
    assert_eq!(tree.contents(), before, "nothing written");
    let status = tree.run_env(&["status", "--target", "twin", "--live"], &env);
    assert_eq!(status.code, 2, "{}", status.stderr);
    assert!(status.stderr.contains(names_both), "{}", status.stderr);

    // Agreeing (one protection, one head) is refused too: a promotion through one would leave the other behind.
    let run = tree.run_env(&["baseline", "--target", "twin", "--head", crate::support::PROD_HEAD], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = tree.run_env(&["promote", "--target", "twin", "--yes", "--skip-catalog"], &env);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("under two host names, so a promotion through one would leave the other's head behind: point both URLs at the same host"), "{}", run.stderr);
    assert_eq!(versions(&url).len(), 9, "nothing pushed");
}

#[test]
fn what_the_database_ran_is_compared_with_the_files() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    commit_all(&tree);
    let env = [("PROD_DB_URL", url.as_str())];
    let status = tree.run_env(&["status", "--target", "prod", "--live"], &env);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains("It matches the recorded head, statement for statement."), "{}", status.stdout);

    // A file pushed from another branch under the same version: the database ran other statements.
    connect(&url)
        .batch_execute(
            "update supabase_migrations.schema_migrations set statements = array['create table public.other (id int)']
             where version = '20260202141500'",
        )
        .unwrap();
    let differs = "20260202141500_problems.sql differs from what prod ran: statement 1 differs:\n    the database ran: create table public.other (id int)\n    the file has:     create table public.problems (";
    let status = tree.run_env(&["status", "--target", "prod", "--live"], &env);
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert!(status.stdout.contains(differs), "{}", status.stdout);
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("promote: refused, nothing pushed: {differs}")), "{}", run.stderr);
    assert_eq!(versions(&url).len(), 9, "nothing pushed");

    // Pushed before the CLI stored statements: unverifiable, never a match.
    connect(&url)
        .batch_execute(
            "update supabase_migrations.schema_migrations set statements = '{}' where version = '20260202141500'",
        )
        .unwrap();
    let status = tree.run_env(&["status", "--target", "prod", "--live"], &env);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("1 applied file(s) were pushed before the CLI stored statements and cannot be verified: 20260202141500_problems.sql"),
        "{}",
        status.stdout
    );
}

#[test]
fn an_applied_file_edited_after_the_embedded_database_ran_it_is_found() {
    let tree = Tree::example();
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let status = tree.run(&["status"]);
    assert!(status.stdout.contains("Head: 20260513175000 (the embedded database's own history)"), "{}", status.stdout);
    assert!(status.stdout.contains("LOCAL is up to date: nothing pending."), "{}", status.stdout);
    let live = tree.run(&["status", "--live"]);
    assert_eq!(live.code, 0, "{}", live.stderr);

    tree.append(
        "migrations/20260513124500_ce08_enhancements_schema_foundation.sql",
        "\ncreate table public.added_later (id int);\n",
    );
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("20260513124500_ce08_enhancements_schema_foundation.sql differs from what local ran: the file has more than the"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cargo xtask db reset"), "{}", run.stderr);
}

#[test]
fn rehearse_on_a_dev_without_history_names_the_files_it_lacks() {
    let tree = staging_tree();
    let prod = prod_at_its_head(&tree, STAGING_ENV);
    let dev = tree.create_db("dev");
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("protected = true", "protected = true\nrehearse_on = \"dev\""));
    commit_all(&tree);
    let run = tree.run_env(
        &["promote", "--target", "prod", "--yes"],
        &[("PROD_DB_URL", prod.as_str()), ("DEV_DB_URL", dev.as_str())],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("20260512231500_cl46_fix_problem_permission_helper.sql is not applied on dev"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_check_inside_promote_counts_what_it_checked_and_the_cache_serves_equal_contents() {
    let tree = staging_tree();
    let prod = prod_at_its_head(&tree, STAGING_ENV);
    let grant = "grant select on public.problems to authenticated;\n";
    tree.write("migrations/20260601000000_grant.sql", grant);
    tree.write("migrations/20260601000001_grant_again.sql", grant);
    let first = tree.check();
    let second = tree.check();
    let summary =
        |run: &crate::support::Run| serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()["summary"].clone();
    assert_eq!(summary(&second)["linted"], summary(&first)["linted"]);
    assert_eq!(
        summary(&second)["cached"],
        summary(&second)["linted"],
        "every answer, duplicates included, from the cache"
    );

    tree.write("migrations/20260601000002_drop.sql", "drop table public.problems;\n");
    tree.write("migrations/20260601000003_rename.sql", "alter table public.profiles rename to people;\n");
    commit_all(&tree);
    let run = tree.run_env(&["promote", "--target", "prod", "--dry-run"], &[("PROD_DB_URL", prod.as_str())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The blocking finding is shown; the line counts every finding of the check, the warning too.
    assert!(run.stderr.contains("20260601000002_drop.sql:1:1: error[destructive]"), "{}", run.stderr);
    let line = run.stderr.lines().find(|l| l.starts_with("check: ")).unwrap_or_default();
    assert_eq!(
        line,
        "check: 18 file(s) linted (16 from the lint cache), 9 applied file(s) hashed: 1 error(s), 1 warning(s), 1 note(s)"
    );
}
