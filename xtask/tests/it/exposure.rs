//! The exposure review: what a branch makes reachable through the Data API, judged on a real shadow at PROD's
//! recorded head (the real CLI, a real Postgres under the platform's role model), before the merge (`review`)
//! and before the push (`promote` of a protected target).

use crate::support::{Run, Tree, commit, commit_all, connect, git, prod_at_its_head, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

/// One file per case, in batch order.
const CASES: [(&str, &str); 9] = [
    (
        "migrations/20260701000000_exposed_notes.sql",
        "create table public.exposed_notes (id bigint primary key, body text);\ngrant select on public.exposed_notes to anon;\n",
    ),
    (
        "migrations/20260701000100_owned_notes.sql",
        "create table public.owned_notes (id bigint primary key, owner uuid not null default auth.uid(), body text);\n\
         alter table public.owned_notes enable row level security;\n\
         create policy \"owners read their notes\" on public.owned_notes for select to authenticated using ((select auth.uid()) = owner);\n",
    ),
    (
        "migrations/20260701000200_contact_views.sql",
        "create view public.contact_emails as select id, email from public.contacts;\n\
         grant select on public.contact_emails to anon;\n\
         create view public.contact_emails_checked with (security_invoker = on) as select id, email from public.contacts;\n\
         grant select on public.contact_emails_checked to anon;\n",
    ),
    (
        "migrations/20260701000300_bump.sql",
        "create function public.bump(n int) returns int language sql security definer set search_path = '' as $$ select n + 1 $$;\n",
    ),
    (
        "migrations/20260701000400_bump_closed.sql",
        "create function public.bump_closed(n int) returns int language sql security definer set search_path = '' as $$ select n + 1 $$;\n\
         revoke execute on function public.bump_closed(int) from public, anon, authenticated;\n",
    ),
    (
        "migrations/20260701000500_private_ledger.sql",
        "create schema private;\ngrant usage on schema private to anon;\n\
         create table private.ledger (id bigint primary key, amount numeric);\ngrant select on private.ledger to anon;\n",
    ),
    ("migrations/20260701000600_contacts_closed_to_anon.sql", "revoke all on public.contacts from anon;\n"),
    (
        "migrations/20260701000700_country_codes.sql",
        "-- xtask: ack exposure: public reference data, the same for everyone\n\
         create table public.country_codes (code text primary key, name text not null);\n",
    ),
    (
        "migrations/20260701000800_contacts_email_index.sql",
        "create index contacts_email_idx on public.contacts (email);\n",
    ),
];

/// The example on `base` (prod's exposed schemas configured), then a branch adding `files`.
fn branch(files: &[(&str, &str)]) -> Tree {
    let tree = Tree::example();
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    let config =
        config.replace("protected = true", "protected = true\nexposed_schemas = [\"public\", \"graphql_public\"]");
    tree.write("xtask.toml", config);
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    commit_all(&tree);
    git(&tree, &["tag", "base"]);
    for (path, sql) in files {
        tree.write(path, sql);
    }
    commit(&tree, "the branch");
    tree
}

fn review(tree: &Tree, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["review", "--base", "base", "--target", "prod"];
    args.extend_from_slice(extra);
    tree.run_env(&args, env)
}

/// The exposure findings of a json review: severity, kind, object, roles and file (without `migrations/`).
fn findings(json: &serde_json::Value) -> Vec<String> {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").trim_start_matches("migrations/").to_string();
    json["exposure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!("{} {} {} [{}] {}", s(&f["severity"]), s(&f["kind"]), s(&f["object"]), s(&f["role"]), s(&f["file"]))
        })
        .collect()
}

/// The output with the merge base's commit id (different on every run) named instead.
fn stable(tree: &Tree, text: &str) -> String {
    let out =
        std::process::Command::new("git").current_dir(tree.dir.path()).args(["rev-parse", "base"]).output().unwrap();
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    crate::support::mask_durations(&text.replace(&sha, "<merge-base>").replace(&sha[..12], "<merge-base>"))
}

#[test]
fn each_case_is_judged_and_named_with_its_file() {
    let tree = branch(&CASES);
    let run = review(&tree, &["--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    expect_test::expect![[r#"
        [
            "error security-definer-executable public.bump(n integer) [anon, authenticated] 20260701000300_bump.sql",
            "error view-bypasses-rls public.contact_emails [anon, authenticated] 20260701000200_contact_views.sql",
            "error table-without-rls public.exposed_notes [anon, authenticated] 20260701000000_exposed_notes.sql",
            "note policy-added \"owners read their notes\" on public.owned_notes [authenticated] 20260701000100_owned_notes.sql",
            "note view-as-invoker public.contact_emails_checked [anon, authenticated] 20260701000200_contact_views.sql",
            "note privileges-lost public.contacts [anon] 20260701000600_contacts_closed_to_anon.sql",
            "note table-without-rls public.country_codes [anon, authenticated] 20260701000700_country_codes.sql",
            "note reachable-with-rls public.owned_notes [anon, authenticated] 20260701000100_owned_notes.sql",
        ]
    "#]]
    .assert_debug_eq(&findings(&json));
    let acked = json["exposure"].as_array().unwrap().iter().find(|f| f["object"] == "public.country_codes").unwrap();
    assert_eq!(acked["acknowledged"], "public reference data, the same for everyone");
    assert_eq!(json["exposure_inputs"]["schemas_from"], "`[targets.prod] exposed_schemas`");
    let owned = json["exposure"].as_array().unwrap().iter().find(|f| f["kind"] == "reachable-with-rls").unwrap();
    assert!(owned["message"].as_str().unwrap().contains("\"owners read their notes\" (SELECT to authenticated"));
    assert!(run.stderr.contains("review: the batch exposes 3 object(s) through prod's Data API"), "{}", run.stderr);

    let human = review(&tree, &[], &[]);
    assert_eq!(human.code, 1);
    expect_test::expect_file!["snapshots/exposure.human.txt"].assert_eq(&stable(&tree, &human.stdout));
    expect_test::expect_file!["snapshots/exposure.json"].assert_eq(&stable(&tree, &run.stdout));
    let summary = tree.path("target/summary.md");
    let summary_env = summary.display().to_string();
    let github = review(&tree, &["--format", "github"], &[("GITHUB_STEP_SUMMARY", summary_env.as_str())]);
    assert_eq!(github.code, 1);
    expect_test::expect_file!["snapshots/exposure.github.txt"].assert_eq(&stable(&tree, &github.stdout));
    let md = stable(&tree, &std::fs::read_to_string(&summary).unwrap());
    let exposure_at = md.find("#### Exposure through the Data API").unwrap();
    assert!(exposure_at < md.find("| file | change | in the batch |").unwrap(), "errors lead the comment:\n{md}");
    expect_test::expect_file!["snapshots/exposure.summary.md"].assert_eq(&md);
}

#[test]
fn a_security_definer_function_is_an_error_until_execute_is_revoked() {
    let tree = branch(&CASES[3..4]);
    let run = review(&tree, &["--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        findings(&json),
        ["error security-definer-executable public.bump(n integer) [anon, authenticated] 20260701000300_bump.sql"]
    );
    tree.append(CASES[3].0, "revoke execute on function public.bump(int) from public, anon, authenticated;\n");
    commit(&tree, "closed");
    let run = review(&tree, &["--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(findings(&json), Vec::<String>::new(), "nothing the API roles reach changes");
}

#[test]
fn a_new_table_is_exposed_where_the_targets_default_privileges_grant_it() {
    let plain = ("migrations/20260701000000_plain.sql", "create table public.plain (id bigint primary key);\n");
    let tree = branch(&[plain]);
    // Without prod's credentials: the shadow's grants are the built-in baseline's, an older project's.
    let run = review(&tree, &["--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        findings(&json),
        ["error table-without-rls public.plain [anon, authenticated] 20260701000000_plain.sql"]
    );
    assert!(json["exposure_inputs"]["privileges_from"].as_str().unwrap().starts_with("the built-in Supabase baseline"));

    // A newer project grants new tables to nobody: read live, the same file exposes nothing.
    let url = prod_at_its_head(&tree, STAGING_ENV);
    connect(&url)
        .batch_execute(
            "set role postgres;\n\
             alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated;\n\
             alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated;\n\
             alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated;",
        )
        .unwrap();
    let run = review(&tree, &["--format", "json"], &[("PROD_DB_URL", &url)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(findings(&json), Vec::<String>::new());
    assert_eq!(
        json["exposure_inputs"]["privileges_from"],
        "prod itself, read live (schema usage and `postgres`'s default privileges)"
    );
}

#[test]
fn an_unchanged_schema_gives_an_empty_section() {
    let tree = branch(&CASES[8..]);
    let run = review(&tree, &[], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("  nothing the API roles reach changes\n"), "{}", run.stdout);
    assert!(run.stdout.contains("  exposure: 0 error(s), 0 warning(s), 0 note(s);"), "{}", run.stdout);
}

#[test]
fn a_protected_target_refuses_an_unacknowledged_exposure_and_pushes_an_acknowledged_one() {
    let tree = branch(&CASES[..1]);
    let url = prod_at_its_head(&tree, STAGING_ENV);
    commit_all(&tree);
    // An unprotected target builds no shadow: its record says so, and which command computes the review.
    let staging =
        tree.run_env(&["promote", "--target", "staging", "--dry-run", "--format", "json"], &[(STAGING_ENV, &url)]);
    assert_eq!(staging.code, 0, "{}", staging.stderr);
    let json: serde_json::Value = serde_json::from_str(&staging.stdout).unwrap();
    assert_eq!(
        json["exposure_not_computed"],
        "not computed, staging is not protected (no local shadow); `cargo xtask review --base main --target staging` computes it on a local shadow"
    );
    let before = versions(&url);
    let run = tree.run_env(&["promote", "--target", "prod", "--yes", "--format", "json"], &[("PROD_DB_URL", &url)]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["refusal"], "exposure", "{json:#}");
    assert_eq!(json["exposure"][0]["object"], "public.exposed_notes");
    assert!(
        run.stderr.contains("promote: the batch exposes 1 object(s) through prod's Data API (public.exposed_notes)")
    );
    assert_eq!(versions(&url), before, "nothing was pushed");

    let acked = format!("-- xtask: ack exposure: the notes are public by design\n{}", CASES[0].1);
    tree.write(CASES[0].0, acked);
    commit(&tree, "acknowledged");
    let run = tree.run_env(&["promote", "--target", "prod", "--yes"], &[("PROD_DB_URL", &url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("(acknowledged: the notes are public by design)"), "{}", run.stdout);
    assert!(versions(&url).contains(&"20260701000000".to_string()));
}
