//! Smaller behaviours a new user reported (issue 29): `fix` on files the embedded database ran, `docs-refresh`
//! that changes nothing, the cutover's note on the embedded target, and parity's windows shown as times.

use crate::support::{Tree, connect};

/// Two pending files with a statement `fix` rewrites, on a table the example has.
const EMAIL: (&str, &str) =
    ("migrations/20260701000000_contacts_email.sql", "create index contacts_email_idx on public.contacts (email);\n");
const ORG: (&str, &str) = (
    "migrations/20260701000100_contacts_org.sql",
    "create index contacts_org_created_idx on public.contacts (org_id, created_at);\n",
);

fn embedded_state(tree: &Tree) -> String {
    tree.run(&["db", "status"]).stdout
}

#[test]
fn fix_warns_about_a_file_the_running_embedded_database_ran_and_never_starts_it() {
    let tree = Tree::example();
    for (path, sql) in [EMAIL, ORG] {
        tree.write(path, sql);
    }
    let run = tree.run(&["promote", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let run = tree.run(&["fix", EMAIL.0]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: the embedded database ran migrations/20260701000000_contacts_email.sql; after this rewrite its history no longer matches the file. It is disposable: `cargo xtask db reset` rebuilds it from the files"),
        "{}",
        run.stderr
    );
    assert!(String::from_utf8(tree.read(EMAIL.0)).unwrap().contains("CONCURRENTLY"), "the file is rewritten");

    // Stopped: fix reads nothing, warns about nothing, and leaves the database stopped.
    assert_eq!(tree.run(&["db", "stop"]).code, 0);
    let run = tree.run(&["fix", ORG.0]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("embedded database"), "{}", run.stderr);
    assert!(String::from_utf8(tree.read(ORG.0)).unwrap().contains("CONCURRENTLY"), "the file is rewritten");
    assert!(embedded_state(&tree).contains("PostgreSQL 17: stopped"), "{}", embedded_state(&tree));
}

#[test]
fn docs_refresh_of_an_unchanged_doc_says_so_and_leaves_the_file_alone() {
    let tree = Tree::example();
    // The promotion writes the snapshot and its doc.
    let run = tree.run(&["promote", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc = "docs/database/SCHEMA_CATALOG.LOCAL.md";
    let before = std::fs::metadata(tree.path(doc)).unwrap().modified().unwrap();

    let run = tree.run(&["docs-refresh"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "docs-refresh: docs/database/SCHEMA_CATALOG.LOCAL.md is unchanged (already up to date)\n"),
        "{}",
        run.stderr
    );
    let json = tree.run(&["docs-refresh", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["state"], "unchanged", "{}", json.stdout);
    assert_eq!(std::fs::metadata(tree.path(doc)).unwrap().modified().unwrap(), before, "not rewritten");

    tree.write(doc, "edited\n");
    let run = tree.run(&["docs-refresh"]);
    assert_eq!(run.stdout, "docs-refresh: wrote docs/database/SCHEMA_CATALOG.LOCAL.md\n", "{}", run.stderr);
}

#[test]
fn the_cutover_note_on_the_embedded_target_asks_to_commit_no_evidence() {
    let tree = Tree::full_example();
    let run = tree.run(&["promote", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("swaps public.audit_log_p into public.audit_log: no parity evidence. Produce it: `cargo xtask partition parity --target local --source public.audit_log --shadow public.audit_log_p --time-column at`, re-run"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("commit docs/database/evidence/"), "{}", run.stderr);
}

#[test]
fn parity_shows_each_window_from_and_to_as_times() {
    const ENV: &str = "XTASK_TEST_PARITY_URL";
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{ENV}\"\n"));
    tree.db_start();
    let url = tree.create_db("parity");
    connect(&url)
        .batch_execute(
            "create table public.events (id bigint primary key, at timestamptz not null);
             insert into public.events select i, now() - i * interval '1 day' from generate_series(1, 60) i;
             create table public.events_p (id bigint not null, at timestamptz not null, primary key (id, at)) partition by range (at);
             create table public.events_p_default partition of public.events_p default;
             insert into public.events_p select * from public.events;",
        )
        .unwrap();
    let args = [
        "partition",
        "parity",
        "--target",
        "staging",
        "--source",
        "public.events",
        "--shadow",
        "public.events_p",
        "--time-column",
        "at",
    ];
    // The times themselves: 30 and 37 days before the run's snapshot, in UTC.
    let before_snapshot = |snapshot: &str| -> (String, String) {
        let mut client = connect(&url);
        client.batch_execute("set timezone = 'UTC'").unwrap();
        let row = client
            .query_one(
                "select ($1::text::timestamptz - interval '30 days')::text, ($1::text::timestamptz - interval '37 days')::text",
                &[&snapshot],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let run = tree.run_env(&args, &[(ENV, url.as_str())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let snapshot = run.stdout.split("| snapshot | ").nth(1).and_then(|rest| rest.split(" (").next()).unwrap();
    let (recent, overlap) = before_snapshot(snapshot);
    for row in [format!("| recent 30d | '{recent}' |  |"), format!("| overlap 7d | '{overlap}' | '{recent}' |")] {
        assert!(run.stdout.contains(&row), "{row} missing from:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("interval"), "no SQL in the table:\n{}", run.stdout);

    let json = tree.run_env(&[&args[..], &["--format", "json"]].concat(), &[(ENV, url.as_str())]);
    let evidence: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let (recent, overlap) = before_snapshot(evidence["snapshot_time"].as_str().unwrap());
    let window = |kind: &str| {
        let w = evidence["windows"].as_array().unwrap().iter().find(|w| w["kind"] == kind).unwrap();
        (w["from"].as_str().map(str::to_string), w["to"].as_str().map(str::to_string))
    };
    assert_eq!(window("recent"), (Some(format!("'{recent}'")), None));
    assert_eq!(window("overlap"), (Some(format!("'{overlap}'")), Some(format!("'{recent}'"))));
}
