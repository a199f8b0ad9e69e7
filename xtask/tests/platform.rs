//! The platform baseline is faithful to a current Supabase project: a history modelled on real apps (auth users
//! with the current columns, identities and sessions, storage buckets and owner_id policies, a database webhook
//! through `supabase_functions`, a realtime policy, a vault secret, policies on `auth.uid()` and `auth.jwt()`)
//! replays on the embedded default, and what it wrote is there afterwards.

mod support;

use support::{Tree, connect};

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
