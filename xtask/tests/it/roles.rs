//! The platform's role model on the databases that stand for a Supabase project: `postgres` is no superuser,
//! what the platform allows it promotes, what it refuses is refused before anything is pushed (statically by
//! `check`, and at run time where `check` is told to look away), and applied history replays under the rules
//! of its day.

use crate::support::{Tree, commit_all, connect};

fn rows(url: &str, sql: &str) -> Vec<String> {
    connect(url).query(sql, &[]).unwrap().iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect()
}

#[test]
fn on_the_embedded_default_postgres_is_no_superuser_and_the_managed_schemas_are_the_services() {
    let tree = Tree::with_migrations(&[]);
    tree.db_start();
    let url = tree.project_url("postgres");
    let one = |sql: &str| rows(&url, sql).join(",");
    assert_eq!(one("select current_user::text"), "postgres", "db url signs in as postgres");
    assert_eq!(one("select rolsuper::text from pg_roles where rolname = 'postgres'"), "false");
    assert_eq!(one("select rolsuper::text from pg_roles where rolname = 'supabase_admin'"), "true");
    assert_eq!(
        one(
            "select format('%s %s %s %s', rolcreaterole, rolcreatedb, rolreplication, rolbypassrls) from pg_roles where rolname = 'postgres'"
        ),
        "t t t t",
        "the platform's attributes"
    );
    assert_eq!(one("select nspowner::regrole::text from pg_namespace where nspname = 'auth'"), "supabase_admin");
    assert_eq!(
        one("select relowner::regrole::text from pg_class where oid = 'auth.mfa_factors'::regclass"),
        "supabase_auth_admin"
    );
    assert_eq!(
        one("select platform_owner::text from supabase_xtask.managed where relid = 'storage.objects'::regclass"),
        "supabase_storage_admin"
    );
    assert_eq!(one("select has_schema_privilege('postgres', 'auth', 'CREATE')::text"), "false");
    assert_eq!(one("select has_schema_privilege('postgres', 'public', 'CREATE')::text"), "true");
}

const ALLOWED: &str = r#"-- What apps do on the platform as `postgres`.
create table public.notes (
  id bigint generated always as identity primary key,
  owner uuid not null references auth.users (id) on delete cascade,
  body text not null default ''
);
alter table public.notes enable row level security;
create policy "own notes" on public.notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
create function public.on_signup() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  insert into public.notes (owner, body) values (new.id, 'welcome');
  return new;
end
$$;
create trigger on_signup after insert on auth.users for each row execute function public.on_signup();
drop trigger if exists on_signup_old on auth.users;
create policy "own avatars" on storage.objects for select to authenticated using (bucket_id = 'avatars' and owner = auth.uid());
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false);
create extension if not exists dblink with schema extensions;
grant select on public.notes to anon;
grant all on public.notes to authenticated, service_role;
select cron.schedule('purge-notes', '0 3 * * *', $job$delete from public.notes where body = ''$job$);
"#;

#[test]
fn what_the_platform_allows_postgres_promotes_on_the_embedded_default() {
    let tree = Tree::with_migrations(&[("20260101000000_allowed.sql", ALLOWED)]);
    assert_eq!(tree.run(&["check"]).code, 0, "check allows every pattern: {}", tree.run(&["check"]).stdout);
    let run = tree.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let admin = tree.admin_url("postgres");
    assert_eq!(
        rows(&admin, "select tgname::text from pg_trigger where tgrelid = 'auth.users'::regclass and not tgisinternal"),
        ["on_signup"]
    );
    assert_eq!(rows(&admin, "select policyname::text from pg_policies where tablename = 'objects'"), ["own avatars"]);
    assert_eq!(rows(&admin, "select extname::text from pg_extension where extname = 'dblink'"), ["dblink"]);
    assert_eq!(rows(&admin, "select username::text from cron.job where jobname = 'purge-notes'"), ["postgres"]);
    connect(&admin)
        .batch_execute(
            "insert into auth.users (id, email) values ('0b3f1a2c-0000-4000-8000-0000000000aa', 'n@example.com')",
        )
        .unwrap();
    assert_eq!(rows(&admin, "select body from public.notes"), ["welcome"], "the trigger on auth.users ran");
    assert_eq!(
        rows(&admin, "select relowner::regrole::text from pg_class where oid = 'public.notes'::regclass"),
        ["postgres"]
    );
}

/// One statement per class the platform refuses, and the words the run-time refusal carries.
const REFUSED: &[(&str, &str, &str)] = &[
    ("alter table auth.users add column nickname text;", "ownership", "must be owner of table users"),
    ("alter table storage.objects add column note text;", "ownership", "must be owner of table objects"),
    (
        "create function auth.my_claim() returns text language sql stable as $$ select 'x' $$;",
        "restricted-schema",
        "permission denied for schema auth",
    ),
    ("alter system set work_mem = '8MB';", "superuser", "permission denied to set parameter"),
    ("create role app_admin superuser;", "superuser", "permission denied to create role"),
    ("copy public.seen from program 'true';", "superuser", "pg_execute_server_program"),
    ("alter role supabase_auth_admin nologin;", "reserved-role", ""),
    ("grant pg_read_server_files to authenticated;", "reserved-role", ""),
];

#[test]
fn what_the_platform_refuses_is_refused_by_check_and_at_run_time_with_nothing_pushed() {
    let tree = Tree::with_migrations(&[("20260101000000_seen.sql", "create table public.seen (id int);\n")]);
    assert_eq!(tree.run(&["promote", "--skip-catalog"]).code, 0);
    let url = tree.project_url("postgres");
    for (i, (statement, _class, words)) in REFUSED.iter().enumerate() {
        let file = format!("migrations/2026020100000{i}_refused.sql");
        tree.write(&file, format!("{statement}\n"));
        let check = tree.run(&["check", "--format", "json"]);
        assert_eq!(check.code, 1, "{statement}: {}{}", check.stdout, check.stderr);
        let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
        let findings: Vec<&serde_json::Value> =
            report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "platform-refuses").collect();
        assert_eq!(findings.len(), 1, "{statement}: {:#}", report["findings"]);
        assert_eq!(findings[0]["file"], file, "{statement}");
        assert_eq!(findings[0]["severity"], "error", "push-breaking: {statement}");
        assert!(findings[0]["message"].as_str().unwrap().contains("postgres"), "{:#}", findings[0]);
        let promote = tree.run(&["promote", "--skip-catalog"]);
        assert_eq!(promote.code, 1, "{statement}: {}{}", promote.stdout, promote.stderr);
        assert!(promote.stderr.contains("platform-refuses"), "{statement}: {}", promote.stderr);
        assert_eq!(applied(&url), ["20260101000000"], "nothing of the batch was pushed: {statement}");
        // At run time, with `check` told to look away: the server refuses what the platform would.
        if !words.is_empty() {
            let config = look_away(&tree);
            let promote = tree.run(&["promote", "--skip-catalog"]);
            assert_eq!(promote.code, 1, "{statement}: {}{}", promote.stdout, promote.stderr);
            assert!(promote.stderr.contains(words), "{statement}: {}", promote.stderr);
            assert!(
                promote.stderr.contains(&format!("at {file}:1")),
                "the file and line are named: {}",
                promote.stderr
            );
            assert_eq!(applied(&url), ["20260101000000"], "the file was rolled back: {statement}");
            tree.write("xtask.toml", &config);
        }
        std::fs::remove_file(tree.path(&file)).unwrap();
    }
    let column: i64 = connect(&url)
        .query_one(
            "select count(*) from information_schema.columns where table_name = 'users' and column_name = 'nickname'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(column, 0);
}

/// `platform-refuses` turned off, so the run-time refusal is what is seen; returns the configuration before.
fn look_away(tree: &Tree) -> String {
    let config = std::fs::read_to_string(tree.path("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("[check.severity]\n", "[check.severity]\nplatform-refuses = \"off\"\n"));
    config
}

fn applied(url: &str) -> Vec<String> {
    rows(url, "select version::text from supabase_migrations.schema_migrations order by 1")
}

#[test]
fn the_guard_is_not_fooled_by_a_temporary_view_nor_by_replica_mode() {
    let tree = Tree::with_migrations(&[]);
    tree.db_start();
    let mut db = connect(&tree.project_url("postgres"));
    db.batch_execute("create temp view pg_roles as select 'postgres'::name as rolname, true as rolsuper").unwrap();
    let err = db.batch_execute("alter table auth.users add column sneaky int").unwrap_err();
    assert!(format!("{err:?}").contains("must be owner of table users"), "{err:?}");
    db.batch_execute("discard temp; set session_replication_role = replica").unwrap();
    let err = db.batch_execute("alter table storage.objects add column sneaky int").unwrap_err();
    assert!(format!("{err:?}").contains("must be owner of table objects"), "{err:?}");
}

const EARLY: &str = "-- 2023: postgres could still create in auth and act as its tables' owner.
create function auth.my_claim() returns text language sql stable as $$ select 'x' $$;
create table auth.legacy_flags (id int primary key);
alter table storage.objects add column legacy_note text;
";
const LATER: &str = "-- xtask: ack exposure: a test table, open on purpose\nalter table auth.legacy_flags add column note text;\ncreate table public.after (id int);\n";

/// `prod` (protected, a Supabase project by its project_ref) holding the early file as the platform applied it,
/// recorded in the lock; the later file pending.
fn history_tree() -> (Tree, String) {
    let tree = Tree::with_migrations(&[("20230101000000_early.sql", EARLY), ("20260101000000_later.sql", LATER)]);
    tree.db_start();
    let prod = tree.create_db("prod");
    let admin = tree.admin_url("prod");
    connect(&admin).batch_execute(EARLY).unwrap();
    connect(&admin)
        .batch_execute(&format!(
            "create schema if not exists supabase_migrations;
             create table if not exists supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
             insert into supabase_migrations.schema_migrations values ('20230101000000', array[{}], 'early');
             grant all on schema supabase_migrations to postgres; grant all on all tables in schema supabase_migrations to postgres;",
            postgres_protocol_literal(EARLY)
        ))
        .unwrap();
    let env = [("PROD_DB_URL", prod.as_str())];
    let run = tree.run_env(&["baseline", "--target", "prod", "--head", "20230101000000"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit_all(&tree);
    (tree, prod)
}

fn postgres_protocol_literal(text: &str) -> String {
    format!("'{}'", text.trim().trim_end_matches(';').replace('\'', "''"))
}

#[test]
fn applied_history_replays_under_the_rules_of_its_day_and_the_note_names_what_today_refuses() {
    let (tree, prod) = history_tree();
    let env = [("PROD_DB_URL", prod.as_str())];
    let run = tree.run_env(&["promote", "--target", "prod", "--dry-run", "--format", "json", "--skip-catalog"], &env);
    assert_eq!(run.code, 0, "the history replays and the batch alters what it created: {}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["role_model"], "platform");
    let note = record["history_note"].as_str().unwrap_or_default();
    assert!(note.starts_with("note: 1 applied history file(s) hold statements today's platform refuses"), "{note}");
    assert!(note.contains("migrations/20230101000000_early.sql:2 (restricted-schema: auth.my_claim)"), "{note}");
    assert!(note.contains("(ownership: storage.objects)"), "{note}");
    assert!(run.stderr.contains(note), "said as well: {}", run.stderr);

    // The embedded default: history is what the protected targets applied; the rest runs under today's rules.
    let local = tree.run(&["promote", "--skip-catalog"]);
    assert_eq!(local.code, 0, "{}{}", local.stdout, local.stderr);
    assert!(
        local
            .stderr
            .contains("history: 1 file(s) at or before 20230101000000 (the lowest head of the protected targets)"),
        "{}",
        local.stderr
    );
    let url = tree.project_url("postgres");
    assert_eq!(
        rows(&url, "select proowner::regrole::text from pg_proc where oid = 'auth.my_claim()'::regprocedure"),
        ["postgres"]
    );
    assert_eq!(
        rows(
            &url,
            "select column_name::text from information_schema.columns where table_name = 'legacy_flags' order by 1"
        ),
        ["id", "note"]
    );
    assert_eq!(rows(&url, "select has_schema_privilege('postgres', 'auth', 'CREATE')::text"), ["false"], "withdrawn");
    assert_eq!(
        rows(&url, "select has_table_privilege('postgres', 'auth.mfa_factors', 'insert, trigger, references')::text"),
        ["true"],
        "postgres's own privileges came back with the owners"
    );
    assert_eq!(rows(&url, "select has_function_privilege('postgres', 'auth.uid()', 'execute')::text"), ["true"]);
    assert_eq!(
        rows(&url, "select relowner::regrole::text from pg_class where oid = 'auth.mfa_factors'::regclass"),
        ["supabase_auth_admin"]
    );

    // drift replays the same history the same way: no error, no drift.
    let drift = tree.run_env(&["drift", "--target", "prod"], &env);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}

#[test]
fn each_refused_class_stops_a_protected_promotion_before_its_push_and_prod_is_untouched() {
    let (tree, prod) = history_tree();
    let env = [("PROD_DB_URL", prod.as_str())];
    let promote = || tree.run_env(&["promote", "--target", "prod", "--yes", "--skip-catalog"], &env);
    for (i, (statement, _, words)) in REFUSED.iter().enumerate() {
        let file = format!("migrations/2026020100000{i}_refused.sql");
        tree.write(&file, format!("{statement}\n"));
        crate::support::commit(&tree, statement);
        let run = promote();
        assert_eq!(run.code, 1, "{statement}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("platform-refuses"), "check's gate: {statement}: {}", run.stderr);
        // With `check` told to look away, the rehearsal refuses it as the platform would.
        if !words.is_empty() {
            let config = look_away(&tree);
            crate::support::commit(&tree, "check looks away");
            let run = promote();
            assert_eq!(run.code, 1, "{statement}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains("rehearsal of the batch failed on a local shadow; nothing was pushed to prod"),
                "{statement}: {}",
                run.stderr
            );
            assert!(run.stderr.contains(words), "{statement}: {}", run.stderr);
            tree.write("xtask.toml", config);
        }
        std::fs::remove_file(tree.path(&file)).unwrap();
        crate::support::commit(&tree, "refused file gone");
        assert_eq!(applied(&tree.admin_url("prod")), ["20230101000000"], "prod is untouched: {statement}");
    }
}
