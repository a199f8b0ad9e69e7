//! `cargo xtask promote` end to end: a real PostgreSQL 15 (each tree's own embedded cluster) and the real
//! Supabase CLI from `npm ci`.

use std::process::Command;
use std::time::Duration;

use crate::support::{Tree, Watched, commit_all, connect, example_versions, git, prod_at_its_head, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const EXAMPLE_HEAD: &str = "20260513175000";

/// A tree with a non-protected `staging` target reached through a URL in `XTASK_TEST_STAGING_URL`.
fn staging_tree() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree
}

fn promote_staging(tree: &Tree, url: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["promote", "--target", "staging", "--yes"];
    args.extend_from_slice(extra);
    tree.run_env(&args, &[(STAGING_ENV, url)])
}

fn status_json(tree: &Tree, target: &str, url: &str) -> serde_json::Value {
    let run = tree.run_env(&["status", "--target", target, "--format", "json"], &[(STAGING_ENV, url)]);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr))
}

fn records(tree: &Tree, dir: &str) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(tree.path(dir)) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

#[test]
fn promote_local_applies_the_example_then_is_a_no_op() {
    let tree = Tree::example();
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Promoted 23 migration(s) to local; head is now 20260513175000"), "{}", run.stdout);
    let url = tree.admin_url("postgres");
    assert_eq!(versions(&url), example_versions());
    // The push's progress names each file as the CLI starts it, in order, however quick (a CI log has a line each).
    let progress: Vec<&str> = run.stderr.lines().filter_map(|l| l.trim().strip_prefix("applying ")).collect();
    let expected: Vec<String> = std::fs::read_dir(tree.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, n)| format!("{}/23 {n}", i + 1))
        .collect();
    assert_eq!(progress, expected, "{}", run.stderr);

    let mut db = connect(&url);
    let one = |db: &mut postgres::Client, sql: &str| -> String { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        one(&mut db, "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'"),
        "audit_log,contact_enrichments,contact_tag_assignments,contact_tags,contacts,form_analytics_daily,form_submissions,forms,\
         fw_automations,fw_jobs,memberships,nav_item_permissions,nav_items,organizations,permissions,problems,profiles,role_permissions,\
         sequence_enrollments,sequence_step_runs,sequence_steps,sequences"
    );
    assert_eq!(
        one(&mut db, "select pg_get_function_identity_arguments('public.form_completion_metrics'::regproc)"),
        "p_form_id uuid, p_from date, p_to date"
    );
    let valid: bool = db
        .query_one(
            "select indisvalid from pg_index where indexrelid = 'public.sequence_enrollments_active_due_idx'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid, "the concurrently built index is valid");
    let policies: i64 =
        db.query_one("select count(*) from pg_policies where policyname like 'admins delete%'", &[]).unwrap().get(0);
    assert_eq!(policies, 3);
    let nav: i64 = db.query_one("select count(*) from public.nav_item_permissions", &[]).unwrap().get(0);
    assert_eq!(nav, 5);
    assert_eq!(records(&tree, "target/xtask/promotions").len(), 1);

    let again = tree.run(&["promote"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("local is up to date at 20260513175000: nothing to push."), "{}", again.stdout);
    assert_eq!(versions(&url), example_versions());
    assert_eq!(records(&tree, "target/xtask/promotions").len(), 1, "a no-op writes no record");
}

#[test]
fn until_pushes_a_prefix_and_records_its_head() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let run = promote_staging(&tree, &url, &["--until", "20260513041000"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&url), example_versions()[..11]);
    let status = status_json(&tree, "staging", &url);
    assert_eq!(status["head"], "20260513041000");
    assert_eq!(status["pending"].as_array().unwrap().len(), 12);
    let recs = records(&tree, "docs/database/promotions");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["outcome"], "promoted");
    assert_eq!(recs[0]["applied"].as_array().unwrap().len(), 11);
    assert_eq!(tree.check().code, 0, "the lock written by promote verifies");
}

#[test]
fn a_failure_mid_batch_keeps_the_prefix_applied_and_recorded_then_a_fixed_rerun_completes() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    assert_eq!(promote_staging(&tree, &url, &[]).code, 0);
    tree.write(
        "migrations/20260601000000_add_problem_labels.sql",
        "create table public.problem_labels (id bigint primary key);\n",
    );
    tree.write(
        "migrations/20260601000001_add_label_names.sql",
        "alter table public.problem_labels add column name text;\n",
    );
    tree.write(
        "migrations/20260601000002_add_label_colors.sql",
        "alter table public.problem_labels add column color nosuchtype;\n",
    );
    tree.write(
        "migrations/20260601000003_add_label_index.sql",
        "create index problem_labels_name_idx on public.problem_labels (name);\n",
    );

    let run = promote_staging(&tree, &url, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("20260601000002_add_label_colors.sql failed on staging"), "{}", run.stderr);
    assert!(run.stderr.contains("type \"nosuchtype\" does not exist"), "{}", run.stderr);
    assert!(
        run.stderr.contains("2 file(s) before it are applied and recorded (head 20260601000001); 1 not attempted"),
        "{}",
        run.stderr
    );
    // One piece of advice, fitting the case (the file ran nowhere), the same in the output and the record; the
    // CLI's excerpt keeps its own lines.
    let advice = "20260601000002_add_label_colors.sql was rolled back and is applied nowhere: correct it, then re-run `cargo xtask promote --target staging`.";
    assert!(run.stderr.contains(&format!("\n{advice} Record: ")), "{}", run.stderr);
    assert!(
        run.stderr.contains("\n    alter table public.problem_labels add column color nosuchtype\n"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Forward-fix") && !run.stderr.contains("cargo xtask new"), "{}", run.stderr);
    let mut expected = example_versions();
    expected.extend(["20260601000000".to_string(), "20260601000001".to_string()]);
    assert_eq!(versions(&url), expected);
    assert_eq!(status_json(&tree, "staging", &url)["head"], "20260601000001");
    let failed = records(&tree, "docs/database/promotions").pop().unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["failed"]["file"], "20260601000002_add_label_colors.sql");
    assert_eq!(failed["failed"]["advice"], advice);

    // Failing again at once applies nothing: the catalog and its doc are left as they were.
    let doc = tree.read("docs/database/SCHEMA_CATALOG.STAGING.md");
    let run = promote_staging(&tree, &url, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("0 file(s) before it are applied"), "{}", run.stderr);
    assert!(!run.stderr.contains("catalog: refreshed"), "{}", run.stderr);
    assert_eq!(tree.read("docs/database/SCHEMA_CATALOG.STAGING.md"), doc);

    tree.write(
        "migrations/20260601000002_add_label_colors.sql",
        "alter table public.problem_labels add column color text;\n",
    );
    let run = promote_staging(&tree, &url, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    expected.extend(["20260601000002".to_string(), "20260601000003".to_string()]);
    assert_eq!(versions(&url), expected);
}

#[test]
fn postgres_stopped_mid_push_is_reported_and_a_rerun_reconciles() {
    let tree = staging_tree();
    let admin = tree.db_start();
    let url = tree.create_db("staging");
    assert_eq!(promote_staging(&tree, &url, &[]).code, 0);
    tree.write("migrations/20260601000000_first.sql", "create table public.first_step (id bigint primary key);\n");
    tree.write(
        "migrations/20260601000001_slow.sql",
        "select pg_sleep(30);\ncreate table public.slow_step (id bigint primary key);\n",
    );
    tree.write("migrations/20260601000002_last.sql", "create table public.last_step (id bigint primary key);\n");

    let child = crate::support::spawn(&tree, &["promote", "--target", "staging", "--yes"], &[(STAGING_ENV, &url)]);
    crate::support::wait_for_statement(&admin, "select pg_sleep(30)");
    assert_eq!(tree.run(&["db", "stop"]).code, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not be read afterwards"), "{stderr}");
    assert!(stderr.contains("re-run `cargo xtask promote --target staging`: it reconciles"), "{stderr}");

    tree.db_start();
    let mut expected = example_versions();
    expected.push("20260601000000".into());
    assert_eq!(versions(&url), expected, "the first file committed before the server stopped");
    assert_eq!(status_json(&tree, "staging", &url)["head"], EXAMPLE_HEAD, "nothing unverified was recorded");

    tree.write("migrations/20260601000001_slow.sql", "create table public.slow_step (id bigint primary key);\n");
    let run = promote_staging(&tree, &url, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    expected.extend(["20260601000001".to_string(), "20260601000002".to_string()]);
    assert_eq!(versions(&url), expected);
    let rec = records(&tree, "docs/database/promotions").pop().unwrap();
    assert_eq!(rec["reconciled"], serde_json::json!(["20260601000000_first.sql"]));
    assert_eq!(status_json(&tree, "staging", &url)["head"], "20260601000002");
}

/// A file that runs until the test opens the gate (`insert into public.gate`): it keeps a promotion inside its push,
/// holding the target's lock, for exactly as long as the test needs, without a lock wait the budget would end.
const GATED: &str =
    "do $$ begin while not exists (select from public.gate) loop perform pg_sleep(0.05); end loop; end $$;\n";

#[test]
fn two_concurrent_promotes_of_one_target_push_once() {
    // Three checkouts of one commit: three machines.
    let (a, b, c) = (staging_tree(), staging_tree(), staging_tree());
    a.db_start();
    let url = a.create_db("staging");
    connect(&url).batch_execute("create table public.gate ()").unwrap();
    assert_eq!(promote_staging(&a, &url, &["--skip-catalog"]).code, 0);
    for tree in [&b, &c] {
        tree.write("migrations/promotion.lock", a.read("migrations/promotion.lock"));
    }
    for tree in [&a, &b, &c] {
        tree.write("migrations/20260601000000_gated.sql", GATED);
    }
    let args = ["promote", "--target", "staging", "--yes", "--skip-catalog"];
    let env = [(STAGING_ENV, url.as_str())];
    let mut first = Watched::spawn(&a, &args, &env);
    first.wait_for("[7/8] push and verify");
    // The first holds the lock inside its push: the second plans the same batch, then waits for the lock.
    let mut second = Watched::spawn(&b, &args, &env);
    second.wait_for("waiting for another promotion of staging (pid ");
    // One that will not wait long is refused, naming the holder, with nothing pushed.
    let impatient = c.run_env(&["promote", "--target", "staging", "--yes", "--wait", "1s"], &env);
    assert_eq!(impatient.code, 1, "{}{}", impatient.stdout, impatient.stderr);
    assert!(
        impatient
            .stderr
            .contains("promote: another promotion of staging held its lock for longer than --wait 1s (pid "),
        "{}",
        impatient.stderr
    );
    assert!(impatient.stderr.contains("cargo-xtask promote, user postgres"), "{}", impatient.stderr);
    // One interrupted while it waits stops there: exit 130, nothing pushed.
    let mut interrupted = Watched::spawn(&c, &args, &env);
    interrupted.wait_for("waiting for another promotion of staging (pid ");
    assert!(Command::new("kill").args(["-INT", &interrupted.pid().to_string()]).status().unwrap().success());
    let interrupted = interrupted.finish();
    assert_eq!(interrupted.code, 130, "{}", interrupted.stderr);
    assert!(
        interrupted.stderr.contains("promote: interrupted before the push: nothing was pushed"),
        "{}",
        interrupted.stderr
    );

    connect(&url).batch_execute("insert into public.gate default values").unwrap();
    let first = first.finish();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("Promoted 1 migration(s) to staging"), "{}", first.stdout);
    // The second plans again under the lock: the batch it reviewed is applied, so it is up to date.
    let second = second.finish();
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains(
            "staging's history moved while this promotion waited (now applied: 20260601000000): planning again"
        ),
        "{}",
        second.stderr
    );
    assert!(
        second.stdout.contains("staging is up to date at 20260601000000: another promotion (pid "),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("applied 20260601000000 while this one waited; nothing to push."),
        "{}",
        second.stdout
    );
    let mut expected = example_versions();
    expected.push("20260601000000".into());
    assert_eq!(versions(&url), expected);
    let outcomes: Vec<Vec<String>> = [&a, &b, &c]
        .iter()
        .map(|t| records(t, "docs/database/promotions").iter().map(|r| r["outcome"].to_string()).collect())
        .collect();
    assert_eq!(
        outcomes,
        [vec![r#""promoted""#; 2], vec![], vec![]],
        "one promotion pushed and recorded (after the first)"
    );
}

#[test]
fn a_file_prod_ran_that_fails_on_another_target_is_about_what_that_target_lacks() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    // A plain database, not a Supabase project: no `auth` schema for the first file's foreign keys.
    connect(&tree.admin_url("staging")).batch_execute("drop schema auth cascade").unwrap();
    let run = promote_staging(&tree, &url, &["--skip-catalog"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let advice = "20260105090000_core_organizations_and_profiles.sql is recorded as applied on prod (migrations/promotion.lock), so it stays as it is: staging lacks something it needs that that target had when the file ran";
    assert!(run.stderr.contains(advice), "{}", run.stderr);
    assert!(!run.stderr.contains("correct it"), "{}", run.stderr);
    let record = records(&tree, "docs/database/promotions").pop().unwrap();
    assert!(record["failed"]["advice"].as_str().unwrap().starts_with(advice), "{record}");
    assert!(versions(&url).is_empty(), "nothing applied");
}

#[test]
fn a_live_history_that_differs_from_the_record_is_refused() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    assert_eq!(tree.run(&["baseline", "--target", "staging", "--head", "20260512220528"]).code, 0);
    let run = promote_staging(&tree, &url, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("recorded as applied (at or before head 20260512220528) but missing from the target's history"),
        "{}",
        run.stderr
    );
    assert!(versions(&url).is_empty(), "nothing pushed");
    let live = tree.run_env(&["status", "--target", "staging", "--live"], &[(STAGING_ENV, &url)]);
    assert_eq!(live.code, 1, "{}", live.stdout);

    let url2 = tree.create_db("other");
    let mut db = connect(&url2);
    db.batch_execute(
        "create schema supabase_migrations; create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);\
         insert into supabase_migrations.schema_migrations (version, name) values ('20990101000000', 'from_another_branch');",
    )
    .unwrap();
    let run = tree.run_env(&["promote", "--target", "staging", "--yes"], &[(STAGING_ENV, &url2)]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the target has migration(s) 20990101000000 that no file here has"), "{}", run.stderr);
    assert_eq!(versions(&url2), ["20990101000000"]);
}

#[test]
fn protected_target_rehearses_then_pushes_from_a_clean_checkout_only() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    commit_all(&tree);

    tree.append("migrations/20260513175000_permissions_sync_pf30_nav_permission_backfill.sql", "\n");
    let env = [("PROD_DB_URL", url.as_str())];
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &env);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "the checkout is not clean (migrations/20260513175000_permissions_sync_pf30_nav_permission_backfill.sql)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(versions(&url).len(), 9, "nothing pushed");
    git(&tree, &["checkout", "-q", "--", "."]);

    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Rehearsal: passed on a local PostgreSQL 17 shadow (history + batch)."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Promotion of 14 migration(s) to prod"), "{}", run.stdout);
    assert_eq!(versions(&url), example_versions());
    assert_eq!(status_json(&tree, "prod", &url)["head"], EXAMPLE_HEAD);
    let shadows: i64 = connect(&tree.admin_url("postgres"))
        .query_one("select count(*) from pg_database where datname like 'xtask_rehearsal_%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(shadows, 0, "the rehearsal database is dropped");
}

#[test]
fn a_batch_failing_its_rehearsal_never_reaches_the_protected_target() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    tree.write("migrations/20260601000000_broken.sql", "alter table public.problems add column x nosuchtype;\n");
    commit_all(&tree);
    let run =
        tree.run_env(&["promote", "--target", "prod", "--yes", "--format", "json"], &[("PROD_DB_URL", url.as_str())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.refusal().as_deref(), Some("rehearsal_failed"), "{}", run.stderr);
    assert_eq!(versions(&url).len(), 9, "the target is untouched");
}

#[test]
fn missing_token_cli_and_postgres_binaries_are_refused_before_anything_runs() {
    let tree = Tree::example();
    let run = Tree::run_cmd(&tree, without_secrets(), &["promote", "--target", "prod", "--yes", "--format", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.refusal().as_deref(), Some("preconditions"), "{}", run.stderr);
    // Every problem is listed, in the one refusal.
    assert!(run.stderr.contains("SUPABASE_ACCESS_TOKEN is not set"), "{}", run.stderr);
    assert!(run.stderr.contains("not a git checkout"), "{}", run.stderr);

    std::fs::remove_file(tree.path("node_modules")).unwrap();
    let mut cmd = without_secrets();
    cmd.env("PATH", "/usr/bin:/bin");
    let run = tree.run_cmd(cmd, &["promote", "--yes"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the Supabase CLI is not installed: run `npm ci`"), "{}", run.stderr);

    let run = tree.run_env(&["promote"], &[("XTASK_PG_BINDIR", "/nonexistent")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "XTASK_PG_BINDIR=/nonexistent holds no Postgres server binaries (initdb, pg_ctl); correct it or unset it"
        ),
        "{}",
        run.stderr
    );
    assert!(!tree.path("target/xtask/pg/17/data").exists());
}

#[test]
fn no_output_or_record_contains_a_planted_token_or_password() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let password = std::fs::read_to_string(tree.path("target/xtask/pg/17/password")).unwrap().trim().to_string();
    let token = "sbp_planted0123456789abcdefsecret";
    tree.write("migrations/20260601000000_broken.sql", "select 1/0;\n");
    let env = [(STAGING_ENV, url.as_str()), ("SUPABASE_ACCESS_TOKEN", token)];
    let mut outputs = Vec::new();
    for args in [
        &["promote", "--target", "staging", "--yes"][..],
        &["promote", "--target", "staging", "--dry-run"],
        &["status", "--target", "staging", "--live"],
        &["promote", "--target", "prod", "--yes"],
    ] {
        let run = tree.run_env(args, &env);
        outputs.push(format!("{}{}", run.stdout, run.stderr));
    }
    let wrong = url.replace(&password, "wrongpass_planted_999");
    let run = tree.run_env(&["promote", "--target", "staging", "--yes"], &[(STAGING_ENV, wrong.as_str())]);
    assert_ne!(run.code, 0);
    outputs.push(format!("{}{}", run.stdout, run.stderr));
    assert!(outputs[0].contains("division by zero"), "the failure is reported: {}", outputs[0]);
    for dir in ["docs/database/promotions", "target/xtask/promotions"] {
        for entry in std::fs::read_dir(tree.path(dir)).into_iter().flatten().flatten() {
            outputs.push(std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    assert!(outputs.len() > 5, "records were written");
    for out in &outputs {
        for secret in [password.as_str(), token, "wrongpass_planted_999"] {
            assert!(!out.contains(secret), "leaked {secret} in:\n{out}");
        }
    }
}

fn without_secrets() -> Command {
    let mut cmd = crate::support::xtask();
    cmd.env_remove("SUPABASE_ACCESS_TOKEN").env_remove("PROD_DB_URL");
    cmd
}

#[test]
fn a_protected_batch_mixing_partition_phases_is_refused_and_phase_one_alone_goes_through() {
    let tree = Tree::full_example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    let url = prod_at_its_head(&tree, STAGING_ENV);
    commit_all(&tree);
    let env = [("PROD_DB_URL", url.as_str())];

    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("this batch mixes phase-1 partition setup with phase-2 work in migrations/20260615090000_audit_log_partition_cutover.sql"), "{}", run.stderr);
    assert!(run.stderr.contains("`cargo xtask promote --target prod --until 20260601091000`"), "{}", run.stderr);
    assert_eq!(versions(&url).len(), 9, "nothing pushed");

    let run =
        tree.run_env(&["promote", "--target", "prod", "--yes", "--until", "20260601091000", "--skip-catalog"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&url).len(), 25);
    let partitions: i64 = connect(&url)
        .query_one("select count(*) from pg_inherits where inhparent = 'public.audit_log_p'::regclass", &[])
        .unwrap()
        .get(0);
    assert_eq!(partitions, 13, "12 months and the default");
}

#[test]
fn a_destructive_file_beyond_until_does_not_stop_the_safe_files_before_it() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    tree.write("migrations/20260601000000_drop_problems.sql", "drop table public.problems;\n");
    commit_all(&tree);
    let env = [("PROD_DB_URL", url.as_str())];

    let run = tree.run_env(&["promote", "--target", "prod", "--yes", "--skip-catalog"], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("20260601000000_drop_problems.sql:1:1: error[destructive]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`cargo xtask check` has 1 blocking finding(s) in what this promotion pushes"),
        "{}",
        run.stderr
    );
    assert_eq!(versions(&url).len(), 9, "nothing pushed");

    let run = tree.run_env(
        &["promote", "--target", "prod", "--yes", "--skip-catalog", "--until", EXAMPLE_HEAD, "--format", "json"],
        &env,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("1 blocking finding(s) above are in pending files beyond --until; they are not promoted now"),
        "{}",
        run.stderr
    );
    assert_eq!(versions(&url), example_versions(), "the 14 safe files are promoted");
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!((record["outcome"].as_str(), record["head_after"].as_str()), (Some("promoted"), Some(EXAMPLE_HEAD)));
    assert_eq!(record["applied"].as_array().map(Vec::len), Some(14));
}

#[test]
fn github_format_annotates_and_writes_the_step_summary() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let summary = tree.path("step-summary.md");
    let run = tree.run_env(
        &["promote", "--target", "staging", "--yes", "--skip-catalog", "--format", "github"],
        &[(STAGING_ENV, url.as_str()), ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("::notice title=xtask promote::staging: promoted"), "{}", run.stdout);
    assert!(
        run.stdout.contains("::notice file=migrations/20260513132700_fix_form_completion_metrics_rls_args.sql,line=5"),
        "{}",
        run.stdout
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("# Promotion to staging: promoted\n"), "{md}");
    assert!(!md.contains(&url), "the URL (and its password) stays out of the summary");
}

/// Every `/proc/<pid>/cmdline` on the machine holding any of `secrets`, sampled until `stop` is set; and how many
/// command lines of the Supabase CLI were seen (proof the sampler was looking while the children ran).
fn sample_command_lines(
    secrets: Vec<String>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(std::collections::BTreeSet<String>, usize)> {
    std::thread::spawn(move || {
        let (mut leaks, mut cli_seen) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else { continue };
                let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
                if line.contains("supabase") && line.contains("--remote=") {
                    // The CLI is told the TLS mode the xtask uses (loopback: prefer).
                    let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
                    if String::from_utf8_lossy(&environ).split('\0').any(|v| v == "PGSSLMODE=prefer") {
                        cli_seen.insert(entry.file_name());
                    }
                }
                if secrets.iter().any(|s| line.contains(s.as_str())) && leaks.len() < 5 {
                    leaks.insert(line.chars().take(60).collect::<String>());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (leaks, cli_seen.len())
    })
}

#[test]
fn no_password_is_on_any_childs_command_line_during_a_rehearsed_push_and_catalog_read() {
    let tree = staging_tree();
    let url = prod_at_its_head(&tree, STAGING_ENV);
    let planted = "Planted-Secret-9f3a7c";
    // Made by the cluster's superuser (`postgres` cannot make one, as on the platform).
    let admin = tree.admin_url(url.rsplit('/').next().unwrap());
    connect(&admin).batch_execute(&format!("create role planted login superuser password '{planted}'")).unwrap();
    let prod_url =
        url.replacen("postgres:", "planted:", 1).replace(&format!(":{}@", url_password(&url)), &format!(":{planted}@"));
    assert!(prod_url.contains(planted) && !prod_url.contains(&url_password(&url)), "{prod_url}");
    commit_all(&tree);
    let admin_password = url_password(&url);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_command_lines(vec![planted.to_string(), admin_password.clone()], stop.clone());
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &[("PROD_DB_URL", prod_url.as_str())]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (leaks, cli_seen) = sampler.join().unwrap();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("catalog: refreshed"), "the catalog was read: {}", run.stderr);
    assert!(
        cli_seen >= 3,
        "the sampler saw the CLI's children (rehearsal, dry-run, push), each with PGSSLMODE: {cli_seen}"
    );
    assert!(leaks.is_empty(), "a password on a command line: {leaks:?}");
    for secret in [planted, admin_password.as_str()] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "printed");
        // Every file the run wrote, but the cluster's own password files (target/xtask/pg/), which hold it by design.
        for (path, bytes) in tree.contents() {
            assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{} holds a password", path.display());
        }
        for entry in walkdir::WalkDir::new(tree.path("target/xtask")).into_iter().flatten() {
            if entry.file_type().is_file() && !entry.path().starts_with(tree.path("target/xtask/pg")) {
                let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned();
                assert!(!text.contains(secret), "{} holds a password", entry.path().display());
            }
        }
    }
}

fn url_password(url: &str) -> String {
    url.split("://").nth(1).unwrap().split('@').next().unwrap().split(':').nth(1).unwrap().to_string()
}

/// A session holding ACCESS SHARE on `public.problems` in an open transaction, as a report job would.
fn blocker(url: &str) -> (postgres::Client, i32) {
    let mut client = connect(url);
    client
        .batch_execute("set application_name = 'nightly-report'; begin; select count(*) from public.problems;")
        .unwrap();
    let pid: i32 = client.query_one("select pg_backend_pid()", &[]).unwrap().get(0);
    (client, pid)
}

/// Once the CLI's statement waits for its lock, a reader of `public.problems` (application `reader`) arriving then;
/// the thread ends when its read is done.
fn reader(url: &str) -> std::thread::JoinHandle<()> {
    let url = url.to_string();
    std::thread::spawn(move || {
        crate::support::wait_for_lock_wait(&url);
        let mut session = connect(&url);
        session.batch_execute("set application_name = 'reader'").unwrap();
        session.query_one("select count(*) from public.problems", &[]).unwrap();
    })
}

/// Whether `thread` ends within a minute (it would wait for ever behind an unbounded lock wait).
fn ends(thread: &std::thread::JoinHandle<()>) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    thread.is_finished()
}

#[test]
fn a_blocked_ddl_waits_at_most_its_budget_names_the_blocker_and_is_retried() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let run = promote_staging(&tree, &url, &["--until", EXAMPLE_HEAD, "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    tree.write("migrations/20260601000000_problems_note.sql", "alter table public.problems add column note text;\n");
    tree.append("xtask.toml", "lock_timeout = \"1s\"\nlock_retries = 1\n");

    // A blocker that never lets go: two attempts, each cancelled at its budget; the file is not applied. A
    // reader arriving while the ALTER waits is held up only while the ALTER waits: its read is done while the
    // blocker still holds its lock.
    let (held, pid) = blocker(&url);
    let reader_thread = reader(&url);
    let run = promote_staging(&tree, &url, &["--skip-catalog", "--format", "json"]);
    assert!(ends(&reader_thread), "the reader waited as long as the blocker, not the budget");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("20260601000000_problems_note.sql could not take its locks on staging within the lock budget\n0 file(s) before it are applied and recorded (head 20260513175000); 0 not attempted.\nAfter 2 attempt(s) it was rolled back and is not applied; blocked by pid {pid} (nightly-report, user postgres, IDLE IN TRANSACTION")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("re-run `cargo xtask promote --target staging` when the blocker is gone"),
        "{}",
        run.stderr
    );
    assert_eq!(versions(&url).last().map(String::as_str), Some(EXAMPLE_HEAD), "head unchanged");
    assert_eq!(run.refusal().as_deref(), Some("push_failed"));
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let attempts = record["lock_budget"]["attempts"].as_array().unwrap();
    assert_eq!(
        attempts.iter().map(|a| a["outcome"].as_str().unwrap()).collect::<Vec<_>>(),
        ["lock-timeout", "lock-timeout"]
    );
    assert_eq!(attempts.iter().map(|a| a["budget_ms"].as_u64().unwrap()).collect::<Vec<_>>(), [1000, 2000]);
    assert_eq!(attempts[0]["blockers"][0]["pid"].as_i64(), Some(pid as i64));
    assert_eq!(attempts[0]["blockers"][0]["application_name"], "nightly-report");
    // Each attempt ended at its budget by the server's own `lock_timeout` (55P03), not by the xtask cancelling it
    // and not by the blocker letting go: no wall-clock bound here, which a loaded machine would break.
    assert!(attempts.iter().all(|a| a.get("cancelled_pid").is_none()), "the server applied the budget: {attempts:?}");
    drop(held);

    // A blocker that commits during the retries: the second attempt applies the file.
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("lock_retries = 1", "lock_retries = 2"));
    let (mut held, _) = blocker(&url);
    let watch = url.clone();
    let release = std::thread::spawn(move || {
        // Once the push waits behind it a second time (the first attempt was cancelled at its budget), the
        // blocker commits.
        let first = crate::support::wait_for_lock_wait(&watch);
        crate::support::wait_for_lock_wait_other_than(&watch, Some(&first));
        held.batch_execute("commit").unwrap();
    });
    let run = promote_staging(&tree, &url, &["--skip-catalog", "--format", "json"]);
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let outcomes: Vec<&str> =
        record["lock_budget"]["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.first(), Some(&"lock-timeout"), "{outcomes:?}");
    assert_eq!(outcomes.last(), Some(&"applied"), "{outcomes:?}");
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260601000000"));

    // Without a budget the same reader waits as long as the blocker does.
    tree.write("migrations/20260602000000_problems_note2.sql", "alter table public.problems add column note2 text;\n");
    tree.write("xtask.toml", config.replace("lock_timeout = \"1s\"", "lock_timeout = \"off\""));
    let (mut held, _) = blocker(&url);
    let reader_thread = reader(&url);
    let watch = url.clone();
    let release = std::thread::spawn(move || {
        // The reader queues behind the waiting ALTER and stays there while the blocker holds its lock.
        crate::support::wait_for_waiting(&watch, "reader");
        let still_waiting = !reader_thread.is_finished();
        held.batch_execute("commit").unwrap();
        reader_thread.join().unwrap();
        still_waiting
    });
    let run = promote_staging(&tree, &url, &["--skip-catalog"]);
    assert!(release.join().unwrap(), "without a budget the reader waits for the blocker");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_concurrently_file_runs_without_the_budget_and_an_invalid_index_it_leaves_is_named() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    let run = promote_staging(&tree, &url, &["--until", EXAMPLE_HEAD, "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    tree.append("xtask.toml", "lock_timeout = \"1s\"\nlock_retries = 0\n");

    // An old snapshot holds the build up for seconds, past the budget: it waits, and is not cancelled.
    tree.write(
        "migrations/20260601000000_problems_id_idx.sql",
        "create index concurrently if not exists problems_id_idx on public.problems (id);\n",
    );
    let mut held = connect(&url);
    held.batch_execute("begin isolation level repeatable read; select count(*) from public.problems;").unwrap();
    let watch = url.clone();
    let release = std::thread::spawn(move || {
        // Let go once the build has waited 2 s by the server's own count (twice its budget, which would have
        // cancelled it by then): the event the assertions below are about, not a span of this test's clock.
        crate::support::wait_for_lock_wait_of_at_least(&watch, "2 s");
        held.batch_execute("commit").unwrap();
    });
    let run = promote_staging(&tree, &url, &["--skip-catalog", "--format", "json"]);
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let attempts = record["lock_budget"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(attempts[0]["budget_ms"].is_null(), "{attempts:?}");
    assert!(attempts[0]["waited_ms"].as_u64().unwrap() >= 1500, "waited past the 1 s budget: {attempts:?}");
    let file_ms = &attempts[0]["file_ms"][0];
    assert_eq!(file_ms[0], "20260601000000_problems_id_idx.sql");
    assert!(file_ms[1].as_u64().unwrap() >= 1500, "the file's own time, waits included: {file_ms}");

    // A unique build that fails on the data leaves an INVALID index: named, with the statement that drops it.
    tree.write(
        "migrations/20260601000100_dups.sql",
        "create table public.dups (a int);\ninsert into public.dups values (1), (1);\n",
    );
    tree.write(
        "migrations/20260601000200_dups_unique.sql",
        "create unique index concurrently if not exists dups_a_key on public.dups (a);\n",
    );
    let run = promote_staging(&tree, &url, &["--skip-catalog", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("INVALID index(es) left by the CONCURRENTLY build: public.dups_a_key. Drop them before re-running (`DROP INDEX CONCURRENTLY IF EXISTS public.dups_a_key;`)"),
        "{}",
        run.stderr
    );
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["invalid_indexes"], serde_json::json!(["public.dups_a_key"]));
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260601000100"), "the file before it stays applied");
}
