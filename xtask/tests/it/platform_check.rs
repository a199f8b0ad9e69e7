//! `check` refuses statically what the hosted platform refuses to `postgres` (`platform-refuses`): the exit
//! code and the exact findings for a refused file, and nothing for the patterns the platform allows.

use expect_test::expect;

use crate::support::Tree;

const ACKED: &str = "note:destructive:20260513132700_fix_form_completion_metrics_rls_args.sql:5";
const FILE: &str = "migrations/20260601000000_platform.sql";

/// The `platform-refuses` findings of a `check --format json`, one a line: `file:line:col message / fix`.
fn refusals(stdout: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(stdout).unwrap();
    let found = json["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "platform-refuses");
    found
        .map(|f| {
            let (file, line, col) = (f["file"].as_str().unwrap(), &f["line"], &f["col"]);
            format!(
                "{}[platform-refuses] {file}:{line}:{col} {}\n  fix: {}\n",
                f["severity"].as_str().unwrap(),
                f["message"].as_str().unwrap(),
                f["fix"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn check_refuses_what_the_platform_refuses() {
    let tree = Tree::example();
    tree.write(
        FILE,
        "create table public.notes (id bigint primary key, body text);\n\
         alter table auth.users add column nickname text;\n\
         create function auth.custom_claims(event jsonb) returns jsonb language sql as $$ select event $$;\n\
         alter system set work_mem = '64MB';\n\
         alter role anon nologin;\n\
         grant pg_read_server_files to authenticated;\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    expect![[r#"
        error[platform-refuses] migrations/20260601000000_platform.sql:2:1 on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
          fix: leave the platform's objects as they are: keep app objects in `public` or a schema of your own (a profile table with a foreign key to auth.users, a trigger on auth.users calling a function in public); policies and dropping triggers on the tables supautils lists are allowed
        error[platform-refuses] migrations/20260601000000_platform.sql:3:1 `create function` of `auth.custom_claims`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
          fix: create it in `public` or a schema of your own; for an auth hook, create the function in `public` and grant execute on it to supabase_auth_admin
        error[platform-refuses] migrations/20260601000000_platform.sql:4:1 `alter system` needs a superuser; on the platform `postgres` is not one
          fix: remove it from the migration: the platform does not let `postgres` do this; ask for what the statement needs through the dashboard or Supabase support
        error[platform-refuses] migrations/20260601000000_platform.sql:5:1 `alter role anon`: `anon` is reserved by supautils (reserved_roles): `postgres` may change its settings (`alter role ... set`), nothing else
          fix: create a role of your own for the app and grant it what it needs; of the platform's roles only the settings of anon, authenticated, authenticator and service_role may change (`alter role anon set ...`)
        error[platform-refuses] migrations/20260601000000_platform.sql:6:1 `grant pg_read_server_files to ...`: supautils reserves membership in `pg_read_server_files` (reserved_memberships): `postgres` may grant it to nobody
          fix: grant the specific privileges the role needs instead of the membership
    "#]].assert_eq(&refusals(&run.stdout));
}

#[test]
fn check_passes_the_patterns_the_platform_allows() {
    let tree = Tree::example();
    tree.write(
        FILE,
        "create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, name text);\n\
         alter table public.profiles enable row level security;\n\
         create policy \"own profile\" on public.profiles for select using ((select auth.uid()) = id);\n\
         create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$\n\
         begin insert into public.profiles (id) values (new.id); return new; end $$;\n\
         drop trigger if exists on_auth_user_created on auth.users;\n\
         create trigger on_auth_user_created after insert on auth.users for each row execute function public.handle_new_user();\n\
         create policy \"own files\" on storage.objects for select to authenticated using ((select auth.uid()) = owner);\n\
         create extension if not exists pg_trgm with schema extensions;\n\
         grant select on public.profiles to anon, authenticated;\n\
         grant all on public.profiles to service_role;\n\
         alter role authenticated set statement_timeout = '15s';\n\
         select cron.schedule('nightly', '0 3 * * *', $$ delete from public.profiles where name is null $$);\n\
         insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);\n",
    );
    let run = tree.check();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings(), [ACKED]);
}
