//! A URL target that is a plain PostgreSQL (no platform roles and schemas) is rehearsed as what it is: as a
//! superuser when its migration user is one, else as an ordinary role, whose batch must own what it alters
//! there. Both live in the tree's cluster, in a database made without the Supabase baseline.

use crate::support::{Tree, commit_all, connect};

const HISTORY: &str = "create table public.legacy (id int primary key);\n";
const BATCH: &str = "alter table public.legacy add column note text;\n";

/// A plain database `plain` holding the history as another role made it, recorded in the lock as `plain`'s
/// head; `user`'s URL to it.
fn plain_tree(user: &str, superuser: bool) -> (Tree, String) {
    let tree = Tree::with_migrations(&[("20260101000000_legacy.sql", HISTORY), ("20260102000000_note.sql", BATCH)]);
    tree.append("xtask.toml", "\n[targets.plain]\ndb_url_env = \"PLAIN_URL\"\nprotected = true\n");
    let admin = tree.db_start();
    connect(&admin).batch_execute("create database plain").unwrap();
    let role = if superuser { "superuser" } else { "nosuperuser" };
    connect(&tree.admin_url("plain"))
        .batch_execute(&format!(
            "create role legacy_owner nologin;
             create role {user} login {role} password 'plain-pw';
             grant all on database plain to {user};
             grant create on schema public to {user};
             {HISTORY}
             alter table public.legacy owner to legacy_owner;
             create schema supabase_migrations authorization {user};
             create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
             alter table supabase_migrations.schema_migrations owner to {user};
             insert into supabase_migrations.schema_migrations values ('20260101000000', array['{}'], 'legacy');",
            HISTORY.trim().trim_end_matches(';')
        ))
        .unwrap();
    let url = fix_url(&tree.admin_url("plain"), user);
    let run = tree.run_env(&["baseline", "--target", "plain", "--head", "20260101000000"], &[("PLAIN_URL", &url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit_all(&tree);
    (tree, url)
}

/// The superuser's URL of the same database, signed in as `user` with its own password.
fn fix_url(admin: &str, user: &str) -> String {
    let mut url = url::Url::parse(admin).unwrap();
    url.set_username(user).unwrap();
    url.set_password(Some("plain-pw")).unwrap();
    url.to_string()
}

#[test]
fn an_ordinary_migration_user_must_own_what_its_batch_alters_on_the_target() {
    let (tree, url) = plain_tree("app_migrator", false);
    let env = [("PLAIN_URL", url.as_str())];
    let run = tree.run_env(&["promote", "--target", "plain", "--yes", "--skip-catalog"], &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "promote: on plain the migration user `app_migrator` does not own public.legacy (legacy_owner does): migrations/20260102000000_note.sql:1 `alter table` would fail with \"must be owner of table legacy\"; nothing was pushed"
        ),
        "{}",
        run.stderr
    );
    let versions: Vec<String> = connect(&url)
        .query("select version from supabase_migrations.schema_migrations order by 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["20260101000000"], "nothing was pushed");

    // Once the user may act as the owner, the same batch promotes, under the plain model.
    connect(&tree.admin_url("plain")).batch_execute("grant legacy_owner to app_migrator").unwrap();
    let run = tree.run_env(&["promote", "--target", "plain", "--yes", "--skip-catalog", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["role_model"], "plain_owner");
    assert!(record.get("history_note").is_none(), "the platform's rules are not a plain target's: {record:#}");
}

#[test]
fn a_superuser_migration_user_is_rehearsed_as_a_superuser() {
    let (tree, url) = plain_tree("app_admin", true);
    let env = [("PLAIN_URL", url.as_str())];
    let run = tree.run_env(&["promote", "--target", "plain", "--yes", "--skip-catalog", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["role_model"], "plain_superuser");
    let lock = std::fs::read_to_string(tree.path("migrations/promotion.lock")).unwrap();
    assert!(lock.contains("role_model = \"plain_superuser\""), "{lock}");
}
