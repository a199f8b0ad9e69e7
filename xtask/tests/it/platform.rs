//! The platform baseline is faithful to a current Supabase project: a history modelled on real apps (auth users
//! with the current columns, identities and sessions, storage buckets and owner_id policies, a database webhook
//! through `supabase_functions`, a realtime policy, a vault secret, policies on `auth.uid()` and `auth.jwt()`)
//! replays on the embedded default, and what it wrote is there afterwards.

use crate::support::{Tree, connect};

#[test]
fn an_app_history_using_the_platform_schemas_replays_on_the_embedded_default() {
    let tree = Tree::example();
    for entry in std::fs::read_dir(tree.path("migrations")).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app");
    for entry in std::fs::read_dir(fixtures).unwrap().flatten() {
        std::fs::copy(entry.path(), tree.path("migrations").join(entry.file_name())).unwrap();
    }
    let run = tree.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Promoted 4 migration(s) to local"), "{}", run.stdout);

    let mut db = connect(&tree.admin_url("postgres"));
    let one = |db: &mut postgres::Client, sql: &str| -> String { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(one(&mut db, "select email from public.profiles"), "seed@example.com", "the auth.users trigger ran");
    assert_eq!(
        one(
            &mut db,
            "select (confirmed_at is not null)::text || ',' || is_sso_user::text || ',' || is_anonymous::text from auth.users"
        ),
        "true,false,false",
        "confirmed_at is generated from email_confirmed_at"
    );
    assert_eq!(one(&mut db, "select hook_name from supabase_functions.hooks"), "profiles_webhook", "the webhook fired");
    assert_eq!(
        one(&mut db, "select decrypted_secret from vault.decrypted_secrets where name = 'mail_api_key'"),
        "local-only-api-key"
    );
    assert_eq!(one(&mut db, "select file_size_limit::text from storage.buckets where id = 'avatars'"), "5242880");
    assert_eq!(one(&mut db, "select public.active_sessions('0b3f1a2c-0000-4000-8000-000000000001')::text"), "1");
    assert_eq!(
        one(
            &mut db,
            "select storage.extension('u/1/me.png') || storage.filename('u/1/me.png') || array_to_string(storage.foldername('u/1/me.png'), '/')"
        ),
        "pngme.pngu/1"
    );
    let policies: i64 = db
        .query_one("select count(*) from pg_policies where schemaname in ('public', 'storage', 'realtime')", &[])
        .unwrap()
        .get(0);
    assert_eq!(policies, 6);
}

#[test]
fn a_baseline_captured_from_a_url_target_is_what_local_databases_start_from() {
    let tree = Tree::example();
    tree.append("xtask.toml", "\n[targets.hosted]\ndb_url_env = \"XTASK_TEST_HOSTED_URL\"\n");
    tree.db_start();
    // The target: a platform with a column and an extension the hand-written baseline does not have.
    let hosted = tree.create_db("hosted");
    connect(&hosted)
        .batch_execute(
            "alter table auth.users add column platform_flag boolean not null default false;
             create extension if not exists hstore with schema extensions;
             create policy \"platform objects\" on storage.objects for select to service_role using (true);",
        )
        .unwrap();
    let env = [("XTASK_TEST_HOSTED_URL", hosted.as_str())];
    let missing = tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env);
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(missing.stderr.contains("docs/database/platform/baseline.sql is missing"), "{}", missing.stderr);
    let run = tree.run_env(&["platform-baseline", "--target", "hosted", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (report["state"].as_str(), report["file"].as_str()),
        (Some("written"), Some("docs/database/platform/baseline.sql"))
    );
    let file = String::from_utf8(tree.read("docs/database/platform/baseline.sql")).unwrap();
    for expected in [
        "platform_flag boolean default false not null",
        "create extension if not exists hstore with schema extensions",
        "-- version ",
        "--> policy storage.objects.\"platform objects\"",
        "--> role service_role",
    ] {
        assert!(file.contains(expected), "{expected} missing from the captured baseline");
    }

    // Local databases now start from it: another checkout's embedded database, and the history replays on it.
    let other = Tree::example();
    other.write("docs/database/platform/baseline.sql", &file);
    let start = other.run(&["db", "start"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    // In dependency order: foreign keys after the keys they reference, so nothing is skipped.
    assert!(!start.stderr.contains("could not be applied here"), "{}", start.stderr);
    let local = other.admin_url("postgres");
    let flag: i64 = connect(&local)
        .query_one("select count(*) from information_schema.columns where table_schema = 'auth' and table_name = 'users' and column_name = 'platform_flag'", &[])
        .unwrap()
        .get(0);
    assert_eq!(flag, 1, "the embedded database starts from the captured baseline");
    let run = other.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "the example's history replays on it: {}{}", run.stdout, run.stderr);
    let hstore: i64 =
        connect(&local).query_one("select count(*) from pg_extension where extname = 'hstore'", &[]).unwrap().get(0);
    assert_eq!(hstore, 1, "with the target's extensions");

    assert_eq!(tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env).code, 0);
    connect(&hosted).batch_execute("alter table storage.buckets add column region text").unwrap();
    let stale = tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains("docs/database/platform/baseline.sql is stale: hosted changed its platform schemas"),
        "{}",
        stale.stderr
    );
    assert!(stale.stderr.contains("`cargo xtask platform-baseline --target hosted`"), "{}", stale.stderr);

    other.write("docs/database/platform/baseline.sql", file.replace("platform_flag", "hand_edited"));
    let edited = other.run(&["db", "reset"]);
    assert_eq!(edited.code, 2);
    assert!(edited.stderr.contains("was edited by hand"), "{}", edited.stderr);
}
