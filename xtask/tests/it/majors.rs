//! The target's PostgreSQL major, and the extensions real histories use, on the server trees the xtask owns
//! (`target/xtask/postgres/<major>/`, laid out by `scripts/setup`).

use xtask::domain::major::Major;

use crate::support::{Tree, commit_all, connect};

fn embedded(major: Major) -> Tree {
    Tree::bare(&format!("[targets.local]\nembedded = true\nmajor_version = {major}\n"))
}

/// What histories on Supabase do with its extensions: vector search with an HNSW index, a pgmq queue, and a
/// pg_cron job every 30 seconds that calls pg_net.
const VECTOR: &str = "\
create extension if not exists vector with schema extensions;
create table public.documents (id bigint primary key, embedding extensions.vector(3) not null);
insert into public.documents values (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]');
create index documents_embedding_idx on public.documents using hnsw (embedding extensions.vector_l2_ops);
";
const QUEUE: &str = "\
create extension if not exists pgmq;
select pgmq.create('emails');
";
const CRON: &str = "\
create extension if not exists pg_net;
select cron.schedule(
  'ping-webhook',
  '30 seconds',
  $$ select net.http_post(url := 'https://example.com/hook', body := '{\"ping\": true}'::jsonb) $$
);
";

fn write_history(tree: &Tree) {
    tree.write("migrations/20260601000000_documents.sql", VECTOR);
    tree.write("migrations/20260601000100_queue.sql", QUEUE);
    tree.write("migrations/20260601000200_cron.sql", CRON);
}

#[test]
fn vector_pgmq_and_a_30_second_cron_job_calling_pg_net_promote_on_15_and_on_17() {
    for major in Major::ALL {
        let tree = embedded(major);
        write_history(&tree);
        let run = tree.run(&["promote"]);
        assert_eq!(run.code, 0, "PostgreSQL {major}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("Promoted 3 migration(s) to local"), "{}", run.stdout);
        for stand_in in ["pg_cron", "pg_net"] {
            let line = run.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{stand_in} ")));
            assert!(
                line.is_some_and(|l| l.contains(": stand-in")),
                "PostgreSQL {major}: {stand_in} is named as a stand-in: {}",
                run.stdout
            );
        }
        let named = |name: &str| run.stdout.lines().any(|l| l.trim_start().starts_with(&format!("{name} ")));
        assert!(!named("vector") && !named("pgmq"), "real extensions are no stand-ins: {}", run.stdout);

        let mut db = connect(&tree.admin_url_of(major, "postgres"));
        let num: String = db.query_one("show server_version_num", &[]).unwrap().get(0);
        assert_eq!(num.parse::<u32>().unwrap() / 10000, major.number());
        db.batch_execute("set enable_seqscan = off").unwrap();
        let plan: Vec<String> = db
            .query("explain select id from public.documents order by embedding <-> '[0.1,0.9,0]' limit 1", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(plan.iter().any(|l| l.contains("documents_embedding_idx")), "the HNSW index answers: {plan:?}");
        let nearest: i64 = db
            .query_one("select id from public.documents order by embedding <-> '[0.1,0.9,0]' limit 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(nearest, 2);
        let queue: Option<String> = db.query_one("select to_regclass('pgmq.q_emails')::text", &[]).unwrap().get(0);
        assert_eq!(queue.as_deref(), Some("pgmq.q_emails"));
        let job = db.query_one("select schedule, command from cron.job where jobname = 'ping-webhook'", &[]).unwrap();
        let (schedule, command): (String, String) = (job.get(0), job.get(1));
        assert_eq!(schedule, "30 seconds");
        assert!(command.contains("net.http_post"), "{command}");

        let record = std::fs::read_dir(tree.path("target/xtask/promotions"))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "md"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .unwrap();
        assert!(record.contains(&format!("| PostgreSQL | {major} |")), "{record}");
        assert!(record.contains("| stand-in | pg_net "), "{record}");
    }
}

/// `JSON_TABLE` is new in 17: a view built on it is a valid batch for a 17 project and a failing one for 15.
const JSON_TABLE: &str = "\
-- xtask: ack exposure: a test table, open on purpose
create table public.events (id int primary key, body jsonb not null);
insert into public.events values (1, '{\"items\": [{\"n\": 1}, {\"n\": 2}]}');
create view public.event_items as
  select e.id, j.n
  from public.events e,
       json_table(e.body, '$.items[*]' columns (n int path '$.n')) as j;
";

#[test]
fn a_pg17_only_statement_promotes_on_17_and_fails_on_15() {
    let on_17 = embedded(Major::V17);
    on_17.write("migrations/20260601000000_event_items.sql", JSON_TABLE);
    let run = on_17.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let items: i64 = connect(&on_17.admin_url_of(Major::V17, "postgres"))
        .query_one("select count(*) from public.event_items", &[])
        .unwrap()
        .get(0);
    assert_eq!(items, 2);

    let on_15 = embedded(Major::V15);
    on_15.write("migrations/20260601000000_event_items.sql", JSON_TABLE);
    let run = on_15.run(&["promote"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("20260601000000_event_items.sql"), "the failing file is named: {}", run.stderr);
    assert!(run.stderr.contains("syntax error"), "{}", run.stderr);
}

#[test]
fn a_protected_target_on_17_is_rehearsed_on_17_while_the_embedded_default_is_15() {
    let tree = Tree::bare(
        "[targets.local]\nembedded = true\nmajor_version = 15\n\
         [targets.prod]\ndb_url_env = \"MAJORS_PROD_URL\"\nprotected = true\n",
    );
    let run = tree.run(&["db", "start", "--major", "17"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let prod = xtask::edges::postgres::create_database(&tree.admin_url_of(Major::V17, "postgres"), "prod").unwrap();
    // Valid on 17 only: a rehearsal on the embedded default's 15 would refuse it.
    tree.write("migrations/20260601000000_event_items.sql", JSON_TABLE);
    commit_all(&tree);
    let run =
        tree.run_env(&["promote", "--target", "prod", "--yes", "--format", "json"], &[("MAJORS_PROD_URL", &prod)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["rehearsal"], "passed on a local PostgreSQL 17 shadow (history + batch)");
    assert_eq!(record["postgres"], 17);
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    assert!(lock.contains("major = 17"), "the major is recorded with the head: {lock}");
    assert!(!tree.path("target/xtask/pg/15/data").exists(), "no 15 cluster was needed");

    let status = tree.run(&["db", "status"]);
    assert!(status.stdout.contains("PostgreSQL 15: absent"), "{}", status.stdout);
    assert!(status.stdout.contains("PostgreSQL 17: running"), "{}", status.stdout);
    assert!(status.stdout.contains("1 rehearsal template(s)"), "{}", status.stdout);

    // With the major recorded, `review` without credentials measures on it too, and says where it came from.
    let base = String::from_utf8(
        std::process::Command::new("git")
            .current_dir(tree.path(""))
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    tree.write(
        "migrations/20260602000000_more_items.sql",
        "-- xtask: ack exposure: a test table, open on purpose\ncreate table public.more_items (id int primary key);\n",
    );
    crate::support::commit(&tree, "more items");
    let run = tree.run(&["review", "--base", base.trim(), "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let review: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(review["postgres"], "17 (recorded for prod in the lock)");
    assert!(!tree.path("target/xtask/pg/15/data").exists(), "the review did not use the embedded default's 15");
}

#[test]
fn supabase_config_sets_the_major_when_the_target_does_not() {
    let tree = Tree::bare("[targets.local]\nembedded = true\n");
    tree.write("supabase/config.toml", "project_id = \"app\"\n\n[db]\nport = 54322\nmajor_version = 15\n");
    let run = tree.run(&["db", "status"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "PostgreSQL 15: absent: `cargo xtask db start --major 15` creates it  (the embedded target's, from [db] major_version in supabase/config.toml)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unknown_major_names_its_file_and_setting() {
    let tree = Tree::bare("[targets.local]\nembedded = true\nmajor_version = 16\n");
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "[targets.local]: major_version = 16 is not a PostgreSQL major the xtask runs; use 15 or 17 (what Supabase projects run)"
        ),
        "{}",
        run.stderr
    );

    let tree = Tree::bare("[targets.local]\nembedded = true\n");
    tree.write("supabase/config.toml", "[db]\nmajor_version = 14\n");
    let run = tree.run(&["db", "start"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("supabase/config.toml [db] major_version = 14 is not a PostgreSQL major"),
        "{}",
        run.stderr
    );

    let tree = Tree::bare("[targets.prod]\ndb_url_env = \"X\"\nmajor_version = 17\n");
    let run = tree.run(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("[targets.prod]: major_version = 17 applies to an embedded target; a hosted or URL target's major is read from its server: remove major_version"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_tree_is_named_with_the_command_that_lays_it_out() {
    let tree = embedded(Major::V17);
    let run = tree.run_env(&["promote"], &[("XTASK_PG_TREES", "/nonexistent/trees")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "no PostgreSQL 17 server tree in /nonexistent/trees/17: run `scripts/setup` (it lays out the npm package pg17-linux-x64), or point XTASK_PG_BINDIR at a PostgreSQL 17 bin folder"
        ),
        "{}",
        run.stderr
    );
    assert!(!tree.path("target/xtask/pg/17/data").exists(), "nothing was started");

    // An override of another major is refused by name, not run.
    let run = tree.run_env(&["db", "start"], &[("XTASK_PG_BINDIR", "/usr/lib/postgresql/15/bin")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("XTASK_PG_BINDIR=/usr/lib/postgresql/15/bin is PostgreSQL 15, but PostgreSQL 17 is needed here"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_cluster_of_another_major_is_named_with_db_reset() {
    let tree = embedded(Major::V15);
    assert_eq!(tree.run(&["db", "start"]).code, 0);
    assert_eq!(tree.run(&["db", "stop"]).code, 0);
    // The files of a 15 cluster where the 17 one belongs, as an older layout or a hand copy leaves them.
    let from = tree.path("target/xtask/pg/15");
    let to = tree.path("target/xtask/pg/17");
    std::fs::rename(&from, &to).unwrap();
    tree.write("xtask.toml", "[targets.local]\nembedded = true\nmajor_version = 17\n");
    let run = tree.run(&["db", "start"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "holds a PostgreSQL 15 cluster, but this one runs PostgreSQL 17; `cargo xtask db reset` recreates it"
        ),
        "{}",
        run.stderr
    );
    let run = tree.run(&["db", "reset"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let num: String =
        connect(&tree.admin_url_of(Major::V17, "postgres")).query_one("show server_version_num", &[]).unwrap().get(0);
    assert!(num.starts_with("17"), "{num}");
}

#[test]
fn the_single_cluster_an_older_xtask_kept_is_named_and_replaced_by_db_reset() {
    let tree = embedded(Major::V17);
    // What an xtask before one cluster per major left: its data straight under target/xtask/pg/.
    tree.write("target/xtask/pg/data/PG_VERSION", "15\n");
    tree.write("target/xtask/pg/port", "5999\n");
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("target/xtask/pg holds a PostgreSQL 15 cluster from before the xtask kept one cluster per major; `cargo xtask db reset` removes it"),
        "{}",
        run.stderr
    );
    let run = tree.run(&["db", "reset"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("removed target/xtask/pg: a cluster from before one cluster per major"),
        "{}",
        run.stderr
    );
    assert!(!tree.path("target/xtask/pg/data").exists());
    let num: String =
        connect(&tree.admin_url_of(Major::V17, "postgres")).query_one("show server_version_num", &[]).unwrap().get(0);
    assert!(num.starts_with("17"), "{num}");
}
