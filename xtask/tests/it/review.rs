//! `cargo xtask review` and `cargo xtask fix`: a branch's migrations reviewed against a real shadow at PROD's
//! recorded head (the real CLI, a real Postgres), the pull-request comment through a GitHub API double on
//! loopback, and `fix`'s rewrites promoted to the embedded database next to the originals.

use crate::support::github::GithubDouble;
use crate::support::{Run, Tree, commit, commit_all, connect, git, prod_at_its_head};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

/// Rewrites public.contacts (a type change, acknowledged).
const REWRITING: (&str, &str) = (
    "migrations/20260701000000_contacts_full_name_varchar.sql",
    "-- xtask: ack destructive: names are capped at 200 characters by the app since 2026.06\n\
     alter table public.contacts alter column full_name type varchar(200);\n",
);
/// Locks public.contacts: an index built in place, a constraint checked under ACCESS EXCLUSIVE.
const LOCKING: (&str, &str) = (
    "migrations/20260701000100_contacts_email_lookup.sql",
    "-- Lookups by email, and a cap on names.\n\
     create index contacts_email_idx on public.contacts (email);\n\
     alter table public.contacts add constraint contacts_full_name_length check (char_length(full_name) <= 200);\n",
);
/// A new table under row-level security: nothing existing is locked, nothing is exposed past its policy.
const HARMLESS: (&str, &str) = (
    "migrations/20260701000200_contact_notes.sql",
    "create table public.contact_notes (\n  id bigint generated always as identity primary key,\n  contact_id uuid not null,\n  body text not null\n);\n\
     alter table public.contact_notes enable row level security;\n\
     create policy \"signed-in users read notes\" on public.contact_notes for select to authenticated using ((select auth.uid()) is not null);\n\
     grant select on public.contact_notes to authenticated;\n",
);

/// The example as committed on `base`, then a branch adding the three files.
fn branch() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    commit_all(&tree);
    git(&tree, &["tag", "base"]);
    for (path, sql) in [REWRITING, LOCKING, HARMLESS] {
        tree.write(path, sql);
    }
    commit(&tree, "contacts: email lookups, notes");
    tree
}

/// The output with the merge base's commit id (different on every run) named instead.
fn stable(tree: &Tree, text: &str) -> String {
    let out =
        std::process::Command::new("git").current_dir(tree.dir.path()).args(["rev-parse", "base"]).output().unwrap();
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    crate::support::mask_durations(&text.replace(&sha, "<merge-base>").replace(&sha[..12], "<merge-base>"))
}

fn review(tree: &Tree, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["review", "--base", "base", "--target", "prod"];
    args.extend_from_slice(extra);
    tree.run_env(&args, env)
}

#[test]
fn a_branch_is_reviewed_with_its_locks_rewrites_and_safe_forms() {
    let tree = branch();
    let run = review(&tree, &[], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    expect_test::expect_file!["snapshots/review.human.txt"].assert_eq(&stable(&tree, &run.stdout));
    let json = review(&tree, &["--format", "json"], &[]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    expect_test::expect_file!["snapshots/review.json"].assert_eq(&stable(&tree, &json.stdout));

    // With PROD's credentials (a URL here), the same report carries PROD's sizes.
    let url = prod_at_its_head(&tree, STAGING_ENV);
    connect(&url)
        .batch_execute(
            "insert into public.organizations (id, name, slug) values ('00000000-0000-0000-0000-000000000001', 'o', 'o');\n\
             insert into public.contacts (org_id, email, full_name) select '00000000-0000-0000-0000-000000000001', 'c' || g || '@example.com', 'n' || g from generate_series(1, 3000) g;\n\
             analyze public.contacts;",
        )
        .unwrap();
    let run = review(&tree, &["--format", "json"], &[("PROD_DB_URL", &url)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["sizes"]["state"], "available", "{json:#}");
    let files = json["impact"]["files"].as_array().unwrap();
    let rewritten = &files[0]["locks"][0];
    assert_eq!(
        (rewritten["relation"].as_str(), rewritten["rewritten"].as_bool()),
        (Some("public.contacts"), Some(true))
    );
    assert_eq!(rewritten["size"]["rows"], 3000.0, "{json:#}");
    assert!(rewritten["size"]["bytes"].as_i64().unwrap() > 100_000, "{json:#}");
    let suggested: Vec<(&str, bool)> = json["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["codes"][0].as_str().unwrap(), s["mechanical"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        suggested,
        [("destructive", false), ("require-concurrent-index-creation", true), ("constraint-missing-not-valid", true)]
    );
}

#[test]
fn on_github_one_comment_is_kept_up_to_date_and_a_forbidden_token_leaves_the_summary() {
    let tree = branch();
    let github = GithubDouble::start("acme/app", "ghs_test_token", 42, 105);
    let event = tree.path("target/event.json");
    std::fs::create_dir_all(event.parent().unwrap()).unwrap();
    std::fs::write(&event, r#"{"action":"synchronize","number":42,"pull_request":{"number":42}}"#).unwrap();
    let summary = tree.path("target/summary.md");
    let (event, summary) = (event.display().to_string(), summary.display().to_string());
    let env = [
        ("GITHUB_TOKEN", "ghs_test_token"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_API_URL", github.url.as_str()),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_STEP_SUMMARY", summary.as_str()),
    ];
    let run = review(&tree, &["--format", "github"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    expect_test::expect_file!["snapshots/review.github.txt"].assert_eq(&stable(&tree, &run.stdout));
    let md = stable(&tree, &std::fs::read_to_string(&summary).unwrap());
    expect_test::expect_file!["snapshots/review.summary.md"].assert_eq(&md);
    let ours = |github: &GithubDouble| -> Vec<String> {
        github.comments(42).into_iter().filter(|c| c.contains("<!-- cargo-xtask-review prod -->")).collect()
    };
    assert_eq!(ours(&github).len(), 1, "{:?}", github.requests());
    // The job summary's section, behind the marker that finds the comment again.
    assert_eq!(stable(&tree, &ours(&github)[0]) + "\n", format!("<!-- cargo-xtask-review prod -->\n{md}"));
    assert!(!run.stdout.contains("ghs_test_token") && !run.stderr.contains("ghs_test_token"));

    // The next push: a file that drops a table. The same comment is updated (it is on the second page of the
    // pull request's comments), never a second one made; the run is blocked by the finding.
    tree.write("migrations/20260701000300_drop_contact_tags.sql", "drop table public.contact_tags;\n");
    tree.append(crate::support::APPLIED_FILE, "-- an edit to a file prod has run\n");
    commit(&tree, "drop contact_tags");
    let run = review(&tree, &["--format", "github"], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(ours(&github).len(), 1, "{:?}", github.requests());
    assert!(ours(&github)[0].contains("drop table public.contact_tags"), "{}", ours(&github)[0]);
    assert!(ours(&github)[0].contains("| `migrations/20260202141500_problems.sql` | changed | no |"));
    assert!(ours(&github)[0].contains("| error | `applied-modified` |"), "{}", ours(&github)[0]);
    assert_eq!(github.comments(42).len(), 106);
    assert!(github.requests().iter().any(|r| r.starts_with("PATCH /repos/acme/app/issues/comments/")));

    // A fork's token may not comment: the summary is written, the run's verdict is the review's alone.
    tree.remove("migrations/20260701000300_drop_contact_tags.sql");
    git(&tree, &["checkout", "base", "--", crate::support::APPLIED_FILE]);
    commit(&tree, "keep contact_tags");
    github.read_only();
    std::fs::write(&summary, "").unwrap();
    let run = review(&tree, &["--format", "github"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("may not comment on pull request #42 (403"), "{}", run.stderr);
    assert!(std::fs::read_to_string(&summary).unwrap().contains("### Migration review for `prod`"));
    assert!(ours(&github)[0].contains("drop table public.contact_tags"), "the comment is as it was");
}

/// Every mechanical case in one pending file on tables PROD already has.
const FIXABLE: &str = "-- Contacts: lookups, links and rules.\n\
create index contacts_email_idx on public.contacts (email);\n\
create index contacts_org_created_idx on public.contacts (org_id, created_at);\n\
alter table public.contacts add constraint contacts_org_fk foreign key (org_id) references public.organizations (id);\n\
alter table public.contacts add constraint contacts_full_name_length check (char_length(full_name) <= 200);\n\
alter table public.contacts alter column full_name set not null;\n\
alter table public.contacts add constraint contacts_org_full_name_key unique (org_id, full_name);\n\
drop index public.contacts_email_idx;\n\
reindex index public.contacts_pkey;\n\
create table public.contact_notes (id bigint primary key, body text);\n";

const FIXABLE_PATH: &str = "migrations/20260701000000_contacts_rules.sql";

/// The embedded database's catalog after promoting the tree, then thrown away.
fn promoted_catalog(tree: &Tree) -> String {
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(tree.run(&["catalog"]).code, 0);
    let mut catalog: serde_json::Value =
        serde_json::from_slice(&tree.read("docs/database/catalog/local.json")).unwrap();
    // The head is the last file's version, which a split moves; the schema is what must not change.
    catalog.as_object_mut().unwrap().remove("head");
    assert_eq!(tree.run(&["db", "reset"]).code, 0);
    serde_json::to_string_pretty(&catalog).unwrap()
}

#[test]
fn fix_writes_the_safe_forms_that_check_accepts_and_that_build_the_same_schema() {
    let tree = Tree::example();
    tree.write(FIXABLE_PATH, FIXABLE);
    let before = tree.check();
    // The example's acknowledged drop (a note) stays; each warning is one of fix's cases.
    assert_eq!(
        before.codes(),
        [
            "note:destructive",
            "warning:require-concurrent-index-creation",
            "warning:require-concurrent-index-creation",
            "warning:constraint-missing-not-valid",
            "warning:adding-foreign-key-constraint",
            "warning:constraint-missing-not-valid",
            "warning:adding-not-nullable-field",
            "warning:constraint-missing-not-valid",
            "warning:disallowed-unique-constraint",
            "warning:require-concurrent-index-deletion",
            "warning:require-concurrent-reindex",
        ]
    );
    let original = promoted_catalog(&tree);

    // An applied file is refused, and nothing is written.
    let run = tree.run_read_only(&["fix", "migrations/20260202141500_problems.sql", FIXABLE_PATH]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("migrations/20260202141500_problems.sql: applied (its checksum is recorded in migrations/promotion.lock), so it is never rewritten"), "{}", run.stderr);

    let dry = tree.run_read_only(&["fix", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    expect_test::expect_file!["snapshots/fix.dry-run.txt"].assert_eq(&dry.stdout);

    let run = tree.run(&["fix"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(tree.check().codes(), ["note:destructive"], "check no longer reports what fix fixed");
    assert_eq!(promoted_catalog(&tree), original, "the fixed files build the schema the originals did");
    let again = tree.run_read_only(&["fix"]);
    assert!(again.stdout.contains("fix: 0 rewrite(s) in 0 file(s), 0 left to you"), "{}", again.stdout);
}
