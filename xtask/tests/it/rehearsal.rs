//! `rehearse_on`: a protected target's batch is rehearsed by a DEV (or staging) target that already holds it,
//! statement for statement, instead of on a local shadow. A second local database stands in for DEV.

use crate::support::{Tree, commit, commit_all, connect, example_versions, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

fn promote_prod(tree: &Tree, prod: &str, dev: &str) -> crate::support::Run {
    tree.run_env(
        &["promote", "--target", "prod", "--yes", "--skip-catalog"],
        &[("PROD_DB_URL", prod), ("DEV_DB_URL", dev)],
    )
}

#[test]
fn prod_promotes_on_devs_evidence_and_refuses_a_file_missing_or_different_there() {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replacen("protected = true", "protected = true\nrehearse_on = \"dev\"", 1));
    tree.db_start();
    let (prod, dev) = (tree.create_db("prod"), tree.create_db("dev"));
    crate::support::bring_to_head(&tree, STAGING_ENV, &prod);
    let run = tree.run_env(&["promote", "--target", "dev", "--yes", "--skip-catalog"], &[("DEV_DB_URL", dev.as_str())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit_all(&tree);

    let version = "20260513052000";
    let saved: Vec<String> = connect(&dev)
        .query_one("select statements from supabase_migrations.schema_migrations where version = $1", &[&version])
        .unwrap()
        .get(0);
    connect(&dev).execute("delete from supabase_migrations.schema_migrations where version = $1", &[&version]).unwrap();
    let run = promote_prod(&tree, &prod, &dev);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("20260513052000_ce13_sequence_delete_policies_admin.sql is not applied on dev"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`cargo xtask promote --target dev`"), "{}", run.stderr);

    let edited: Vec<String> = saved.iter().map(|s| s.replace("delete", "update")).collect();
    connect(&dev)
        .execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, 'x', $2)",
            &[&version, &edited],
        )
        .unwrap();
    let run = promote_prod(&tree, &prod, &dev);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("20260513052000_ce13_sequence_delete_policies_admin.sql differs on dev from this checkout"),
        "{}",
        run.stderr
    );
    assert_eq!(versions(&prod).len(), 9, "nothing pushed");

    connect(&dev)
        .execute(
            "update supabase_migrations.schema_migrations set statements = $2 where version = $1",
            &[&version, &saved],
        )
        .unwrap();
    let run = promote_prod(&tree, &prod, &dev);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Rehearsal: applied on dev (database postgresql://postgres:***@127.0.0.1:"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("rehearsal: the batch as applied on the rehearse_on target"), "{}", run.stderr);
    assert_eq!(versions(&prod), example_versions());
    let record = std::fs::read_dir(tree.path("docs/database/promotions"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("-prod.json"))
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record.path()).unwrap()).unwrap();
    assert_eq!(record["rehearsal"].as_str().unwrap().split(" (").next(), Some("applied on dev"));
}

/// A history row as the CLI writes it, for a file the local server could never apply.
fn fake_applied(url: &str, version: &str, name: &str, text: &str) {
    let mut db = connect(url);
    db.batch_execute(
        "create schema if not exists supabase_migrations;
         create table if not exists supabase_migrations.schema_migrations (version text primary key, statements text[], name text);",
    )
    .unwrap();
    let statements = vec![text.trim().trim_end_matches(';').to_string()];
    db.execute(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
        &[&version, &name, &statements],
    )
    .unwrap();
}

#[test]
fn a_history_with_an_extension_the_local_server_lacks_is_rehearsed_on_dev_instead() {
    let tree = Tree::example();
    for entry in std::fs::read_dir(tree.path("migrations")).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    // PostGIS is in no server tree here, and the xtask has no stand-in for it: the local shadow can never replay
    // this history.
    let postgis = "create extension if not exists postgis with schema extensions;\n";
    let items = "create table public.items (id bigint primary key, title text not null);\n";
    tree.write("migrations/20260101000000_postgis.sql", postgis);
    tree.write("migrations/20260102000000_items.sql", items);
    tree.db_start();
    let (prod, dev) = (tree.create_db("prod"), tree.create_db("dev"));
    let available: bool = connect(&prod)
        .query_one("select exists (select 1 from pg_available_extensions where name = 'postgis')", &[])
        .unwrap()
        .get(0);
    assert!(!available, "the local server must lack postgis for this test to mean anything");
    for url in [&prod, &dev] {
        fake_applied(url, "20260101000000", "postgis", postgis);
    }
    connect(&dev).batch_execute(items).unwrap();
    fake_applied(&dev, "20260102000000", "items", items);
    assert_eq!(tree.run(&["baseline", "--target", "prod", "--head", "20260101000000"]).code, 0);
    commit_all(&tree);

    let run = promote_prod(&tree, &prod, &dev);
    assert_eq!(run.code, 1, "the local rehearsal dead-ends: {}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("rehearsal of the applied history failed on a local shadow"), "{}", run.stderr);
    assert!(run.stderr.contains("postgis"), "{}", run.stderr);

    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replacen("protected = true", "protected = true\nrehearse_on = \"dev\"", 1));
    commit(&tree, "rehearse on dev");
    let run = promote_prod(&tree, &prod, &dev);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&prod), ["20260101000000", "20260102000000"]);
    let items: Option<String> =
        connect(&prod).query_one("select to_regclass('public.items')::text", &[]).unwrap().get(0);
    assert_eq!(items.as_deref(), Some("items"));
}

/// The example with prod (a database of the tree's cluster) at its recorded head and the pending files gone,
/// so a test's own file is the whole batch.
fn prod_at_its_head_with_nothing_pending() -> (Tree, String) {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree.db_start();
    let prod = tree.create_db("prod");
    crate::support::bring_to_head(&tree, STAGING_ENV, &prod);
    for entry in std::fs::read_dir(tree.path("migrations")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") && &name[..14] > crate::support::PROD_HEAD {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    (tree, prod)
}

#[test]
fn the_lock_report_names_rewrites_locks_and_index_builds_with_the_targets_sizes() {
    let (tree, prod) = prod_at_its_head_with_nothing_pending();
    tree.write(
        "migrations/20260601000000_rewrite.sql",
        "-- xtask: ack destructive: titles are capped at 300 characters by the app already\nalter table public.problems alter column title type varchar(300);\n",
    );
    tree.write(
        "migrations/20260601000001_lock_only.sql",
        "alter table public.problems add column reviewed_at timestamptz;\n",
    );
    tree.write(
        "migrations/20260601000002_neither.sql",
        "-- xtask: ack exposure: a test table, open on purpose\ncreate table public.fresh (id bigint primary key);\n",
    );
    tree.write(
        "migrations/20260601000003_index.sql",
        "create index problems_reviewed on public.problems (reviewed_at);\n",
    );
    commit_all(&tree);
    let run = tree
        .run_env(&["promote", "--target", "prod", "--dry-run", "--format", "json"], &[("PROD_DB_URL", prod.as_str())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let impact = record["impact"].as_array().unwrap();
    let summary: Vec<String> = impact
        .iter()
        .map(|f| {
            let mut parts: Vec<String> = f["locks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    format!(
                        "{} {} {}",
                        if l["rewritten"] == true { "rewrites" } else { "locks" },
                        l["relation"].as_str().unwrap(),
                        l["mode"].as_str().unwrap()
                    )
                })
                .collect();
            parts.extend(
                f["index_builds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| format!("builds {}", b["index"].as_str().unwrap())),
            );
            format!("{}: {}", f["file"].as_str().unwrap(), parts.join(", "))
        })
        .collect();
    assert_eq!(
        summary,
        [
            "20260601000000_rewrite.sql: rewrites public.problems ACCESS EXCLUSIVE",
            "20260601000001_lock_only.sql: locks public.problems ACCESS EXCLUSIVE",
            "20260601000002_neither.sql: ",
            "20260601000003_index.sql: locks public.problems SHARE, builds public.problems_reviewed",
        ]
    );
    assert!(impact[0]["locks"][0]["size"]["bytes"].as_i64().unwrap() > 0, "joined with prod's size");
    let human = tree.run_env(&["promote", "--target", "prod", "--dry-run"], &[("PROD_DB_URL", prod.as_str())]);
    assert!(human.stdout.contains("rewrites public.problems ("), "{}", human.stdout);
    assert!(human.stdout.contains("rows on prod) under ACCESS EXCLUSIVE"), "{}", human.stdout);
    assert_eq!(versions(&prod).len(), 9, "a dry run pushes nothing");
}

#[test]
fn the_lock_report_names_what_supautils_holds_for_a_policy_on_an_app_table_and_for_how_long() {
    let (tree, prod) = prod_at_its_head_with_nothing_pending();
    tree.write(
        "migrations/20260601000000_problems_policy.sql",
        "create policy \"reviewers read problems\" on public.problems for select to authenticated using (true);\n",
    );
    commit_all(&tree);
    // prod has a project_ref: a Supabase project, where supautils handles the policy.
    let env = [("PROD_DB_URL", prod.as_str())];
    let run = tree.run_env(&["promote", "--target", "prod", "--dry-run", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let file = &record["impact"][0];
    assert_eq!(file["locks"][0]["relation"], "public.problems", "the shadow's own measure stays: {file:#}");
    let held = &file["policy_locks"];
    assert_eq!(held["mode"], "ACCESS EXCLUSIVE", "{file:#}");
    let tables: Vec<&str> = held["tables"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tables.len(), 11, "a table not in the list: every listed one, {tables:?}");
    assert_eq!(
        (tables[0], tables[4], tables[10]),
        ("auth.audit_log_entries", "auth.users", "storage.s3_multipart_uploads_parts")
    );
    assert!(held["held_ms"].is_u64(), "measured on the shadow: {file:#}");

    let human = tree.run_env(&["promote", "--target", "prod", "--dry-run"], &env);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    let line = human.stdout.lines().find(|l| l.contains("supautils' policy_grants")).unwrap_or_default();
    assert!(
        line.trim_start().starts_with("holds ACCESS EXCLUSIVE on auth.audit_log_entries, auth.identities, "),
        "{}",
        human.stdout
    );
    assert!(
        line.contains("for the file's whole transaction: ")
            && line.contains(" on the shadow — sign-in, token refresh, storage reads and Realtime broadcasts wait"),
        "{line}"
    );
}

/// The kept templates, and (second) their spare copies, which the next rehearsal renames instead of copying.
fn templates(tree: &Tree) -> (Vec<String>, Vec<String>) {
    connect(&tree.admin_url("postgres"))
        .query("select datname::text from pg_database where datname like 'xtask\\_tpl\\_%' order by 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .partition(|name| !name.contains("_spare"))
}

#[test]
fn a_rehearsal_at_a_known_head_copies_its_template_and_still_catches_a_broken_batch() {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree.db_start();
    let prod = tree.create_db("prod");
    crate::support::bring_to_head(&tree, STAGING_ENV, &prod);
    commit_all(&tree);
    let dry = || tree.run_env(&["promote", "--target", "prod", "--dry-run"], &[("PROD_DB_URL", prod.as_str())]);

    let first = dry();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(first.stderr.contains("history: replayed, and kept as a template"), "{}", first.stderr);
    let (kept, spares) = templates(&tree);
    let both = |t: &str| vec![format!("{t}_spare"), format!("{t}_spare2")];
    assert_eq!((kept.len(), spares), (1, both(&kept[0])), "a template and its spares (rehearsal, lock report)");

    let second = dry();
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert!(second.stderr.contains("history: copied from the template kept at this head"), "{}", second.stderr);
    assert!(
        second.stdout.contains("Rehearsal: passed on a local PostgreSQL 17 shadow (history + batch)."),
        "{}",
        second.stdout
    );
    assert_eq!(templates(&tree), (kept.clone(), both(&kept[0])), "the spares taken are refilled");

    tree.write("migrations/20260601000000_broken.sql", "alter table public.problems add column x nosuchtype;\n");
    commit(&tree, "a broken file");
    let broken = dry();
    assert_eq!(broken.code, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(broken.stderr.contains("history: copied from the template"), "{}", broken.stderr);
    assert!(broken.stderr.contains("rehearsal of the batch failed on a local shadow"), "{}", broken.stderr);
    tree.remove("migrations/20260601000000_broken.sql");
    commit(&tree, "removed");

    // A new head is a new history: a new template, and the old one goes.
    let run = tree.run_env(
        &["promote", "--target", "prod", "--yes", "--skip-catalog", "--until", "20260513041000"],
        &[("PROD_DB_URL", prod.as_str())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit(&tree, "promoted");
    let after = dry();
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert!(after.stderr.contains("history: replayed, and kept as a template"), "{}", after.stderr);
    let (now, spares) = templates(&tree);
    assert_eq!((now.len(), spares.len()), (1, 2), "the old template and its spares go");
    assert_ne!(now, kept);
}
