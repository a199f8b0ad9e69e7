//! Each class of refusal and each allowed pattern, with the exact words `check` prints.

use expect_test::{Expect, expect};

use super::*;
use crate::domain::lint::sql::{LintSettings, analyze};

fn parse(sql: &str) -> Analysis {
    let analysis = analyze(sql, &LintSettings { squawk_rules: &[] });
    assert!(analysis.parse_errors.is_empty(), "{:?}", analysis.parse_errors);
    analysis
}

/// The refusals of one file, one per line: `line class object: reason`.
fn render(files: &[(&str, &str)]) -> String {
    render_with(files, &Supautils::shipped())
}

fn render_with(files: &[(&str, &str)], supautils: &Supautils) -> String {
    let parsed: Vec<(&str, Analysis)> = files.iter().map(|(f, sql)| (*f, parse(sql))).collect();
    let refused = refusals(parsed.iter().map(|(f, a)| (*f, a)), supautils);
    refused.iter().map(|r| format!("{}:{} {:?} {}: {}\n", r.file, r.pos.line, r.class, r.object, r.reason)).collect()
}

fn check(sql: &str, expected: Expect) {
    expected.assert_eq(&render(&[("m/1_a.sql", sql)]));
}

#[test]
fn managed_objects_postgres_does_not_own() {
    check(
        "alter table auth.users add column nickname text;\n\
         alter table auth.users enable row level security;\n\
         alter function auth.uid() owner to postgres;\n\
         alter type auth.factor_type add value 'x';\n\
         alter view storage.v owner to postgres;\n\
         alter sequence auth.refresh_tokens_id_seq restart;\n\
         create index on auth.users (email);\n\
         comment on column auth.users.email is 'x';\n\
         comment on function auth.uid() is 'x';\n\
         drop table if exists public.mine, storage.objects;\n\
         drop function auth.email();\n\
         create rule r as on insert to auth.users do nothing;\n\
         alter schema auth owner to postgres;\n\
         comment on schema storage is 'x';\n",
        expect![[r#"
            m/1_a.sql:1 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:2 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:3 Ownership auth.uid: on the hosted platform `postgres` does not own `auth.uid` (supabase_auth_admin does): `alter function` on it fails with "must be owner of function uid"
            m/1_a.sql:4 Ownership auth.factor_type: on the hosted platform `postgres` does not own `auth.factor_type` (supabase_auth_admin does): `alter type` on it fails with "must be owner of type factor_type"
            m/1_a.sql:5 Ownership storage.v: on the hosted platform `postgres` does not own `storage.v` (supabase_storage_admin does): `alter view` on it fails with "must be owner of view v"
            m/1_a.sql:6 Ownership auth.refresh_tokens_id_seq: on the hosted platform `postgres` does not own `auth.refresh_tokens_id_seq` (supabase_auth_admin does): `alter sequence` on it fails with "must be owner of sequence refresh_tokens_id_seq"
            m/1_a.sql:7 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `create index` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:8 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `comment on` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:9 Ownership auth.uid: on the hosted platform `postgres` does not own `auth.uid` (supabase_auth_admin does): `comment on` on it fails with "must be owner of function uid"
            m/1_a.sql:10 Ownership storage.objects: on the hosted platform `postgres` does not own `storage.objects` (supabase_storage_admin does): `drop table` on it fails with "must be owner of table objects"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:11 Ownership auth.email: on the hosted platform `postgres` does not own `auth.email` (supabase_auth_admin does): `drop function` on it fails with "must be owner of function email"
            m/1_a.sql:12 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `create rule` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
            m/1_a.sql:13 Ownership auth: on the hosted platform `postgres` does not own `auth` (supabase_admin does): `alter schema` on it fails with "must be owner of schema auth"
            m/1_a.sql:14 Ownership storage: on the hosted platform `postgres` does not own `storage` (supabase_admin does): `comment on schema` on it fails with "must be owner of schema storage"
        "#]],
    );
}

#[test]
fn policies_and_dropped_triggers_beyond_supautils_lists() {
    check(
        "create policy p on auth.mfa_factors for select using (true);\n\
         drop policy p on auth.mfa_factors;\n\
         drop trigger t on auth.mfa_factors;\n",
        expect![[r#"
            m/1_a.sql:1 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does) and supautils' policy_grants do not list it: `create policy` on it fails with "must be owner of table mfa_factors"
            m/1_a.sql:2 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does) and supautils' policy_grants do not list it: `drop policy` on it fails with "must be owner of table mfa_factors"
            m/1_a.sql:3 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does) and supautils' drop_trigger_grants do not list it: `drop trigger` on it fails with "must be owner of table mfa_factors"
        "#]],
    );
}

/// A target captured with `platform-baseline` is judged by its own lists: one that grants `auth.mfa_factors`
/// allows policies and dropped triggers there (which the shipped lists refuse), and one that reserves fewer
/// roles and memberships or privileges more extensions allows those too.
#[test]
fn a_captured_targets_lists_replace_the_shipped_ones() {
    let sql = "create policy p on auth.mfa_factors for select using (true);\n\
               drop trigger t on auth.mfa_factors;\n\
               alter table auth.mfa_factors add column x int;\n\
               alter role dashboard_user rename to x;\n\
               grant authenticator to app;\n\
               create extension pageinspect;\n";
    let files = [("m/1_a.sql", sql)];
    let mut captured = Supautils::shipped();
    captured.policy_grants.push("auth.mfa_factors".into());
    captured.drop_trigger_grants.push("auth.mfa_factors".into());
    captured.reserved_roles.retain(|r| r != "dashboard_user");
    captured.reserved_memberships.retain(|r| r != "authenticator");
    captured.privileged_extensions.push("pageinspect".into());
    expect![[r#"
        m/1_a.sql:3 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table mfa_factors"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
    "#]].assert_eq(&render_with(&files, &captured));
    expect![[r#"
        m/1_a.sql:1 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does) and supautils' policy_grants do not list it: `create policy` on it fails with "must be owner of table mfa_factors"
        m/1_a.sql:2 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does) and supautils' drop_trigger_grants do not list it: `drop trigger` on it fails with "must be owner of table mfa_factors"
        m/1_a.sql:3 Ownership auth.mfa_factors: on the hosted platform `postgres` does not own `auth.mfa_factors` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table mfa_factors"
        m/1_a.sql:4 ReservedRole dashboard_user: `alter role dashboard_user`: `dashboard_user` is reserved by supautils (reserved_roles): `postgres` may not create, alter, drop or rename it
        m/1_a.sql:5 ReservedRole authenticator: `grant authenticator to ...`: supautils reserves membership in `authenticator` (reserved_memberships): `postgres` may grant it to nobody
        m/1_a.sql:6 Superuser pageinspect: `create extension pageinspect`: `pageinspect` is left out of supautils' privileged extensions ("may be unsafe") and is untrusted, so `postgres` cannot create it on the platform
    "#]].assert_eq(&render(&files));
}

#[test]
fn new_objects_in_restricted_schemas() {
    check(
        "create table auth.profiles (id uuid primary key);\n\
         create or replace function auth.hook(event jsonb) returns jsonb language sql as $$ select event $$;\n\
         create procedure storage.p() language sql as $$ select 1 $$;\n\
         create type realtime.t as enum ('a');\n\
         create view auth.v as select 1;\n\
         create sequence storage.s;\n\
         create domain auth.d as int;\n\
         create materialized view realtime.m as select 1;\n",
        expect![[r#"
            m/1_a.sql:1 RestrictedSchema auth.profiles: `create table` of `auth.profiles`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
            m/1_a.sql:2 RestrictedSchema auth.hook: `create or replace function` of `auth.hook`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
            m/1_a.sql:3 RestrictedSchema storage.p: `create procedure` of `storage.p`: since April 2025 the platform refuses new objects in schema `storage` to `postgres` (it has no CREATE there): it fails with "permission denied for schema storage"
            m/1_a.sql:4 RestrictedSchema realtime.t: `create type` of `realtime.t`: since April 2025 the platform refuses new objects in schema `realtime` to `postgres` (it has no CREATE there): it fails with "permission denied for schema realtime"
            m/1_a.sql:5 RestrictedSchema auth.v: `create view` of `auth.v`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
            m/1_a.sql:6 RestrictedSchema storage.s: `create sequence` of `storage.s`: since April 2025 the platform refuses new objects in schema `storage` to `postgres` (it has no CREATE there): it fails with "permission denied for schema storage"
            m/1_a.sql:7 RestrictedSchema auth.d: `create domain` of `auth.d`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
            m/1_a.sql:8 RestrictedSchema realtime.m: `create materialized view` of `realtime.m`: since April 2025 the platform refuses new objects in schema `realtime` to `postgres` (it has no CREATE there): it fails with "permission denied for schema realtime"
        "#]],
    );
}

#[test]
fn superuser_only_statements() {
    check(
        "alter system set work_mem = '64MB';\n\
         copy t from program 'ls';\n\
         copy t to '/tmp/t.csv';\n\
         create language plpython3u;\n\
         create function f() returns int language plpython3u as $$ return 1 $$;\n\
         create function g() returns int language c as 'lib', 'g';\n\
         load 'auto_explain';\n\
         create role admin superuser login;\n\
         alter role app with superuser;\n\
         create extension if not exists pageinspect;\n\
         create extension plperlu;\n",
        expect![[r#"
            m/1_a.sql:1 Superuser alter system: `alter system` needs a superuser; on the platform `postgres` is not one
            m/1_a.sql:2 Superuser copy ... program: `copy ... program` needs a superuser or pg_execute_server_program; on the platform `postgres` is neither (supautils reserves that membership)
            m/1_a.sql:3 Superuser copy ... file: `copy` to or from a file on the server needs a superuser or pg_read_server_files/pg_write_server_files; on the platform `postgres` is neither (supautils reserves those memberships)
            m/1_a.sql:4 Superuser plpython3u: `create language plpython3u` needs a superuser; on the platform `postgres` is not one
            m/1_a.sql:5 Superuser plpython3u: `create function` in language `plpython3u` (untrusted) needs a superuser; on the platform `postgres` is not one
            m/1_a.sql:6 Superuser c: `create function` in language `c` (untrusted) needs a superuser; on the platform `postgres` is not one
            m/1_a.sql:7 Superuser auto_explain: `load 'auto_explain'` of a library outside $libdir/plugins needs a superuser; on the platform `postgres` is not one
            m/1_a.sql:8 Superuser admin: `create role admin ... superuser` needs a superuser, and supautils refuses it to `postgres`
            m/1_a.sql:9 Superuser app: `alter role app ... superuser` needs a superuser, and supautils refuses it to `postgres`
            m/1_a.sql:10 Superuser pageinspect: `create extension pageinspect`: `pageinspect` is left out of supautils' privileged extensions ("may be unsafe") and is untrusted, so `postgres` cannot create it on the platform
            m/1_a.sql:11 Superuser plperlu: `create extension plperlu`: `plperlu` is an untrusted language, which no platform lists in supautils' privileged extensions, so `postgres` cannot create it on the platform
        "#]],
    );
}

#[test]
fn reserved_roles_and_memberships() {
    check(
        "alter role supabase_admin rename to x;\n\
         alter role authenticator nologin;\n\
         alter role supabase_auth_admin set search_path = auth;\n\
         drop role if exists anon;\n\
         alter user dashboard_user set statement_timeout = '1s';\n\
         grant pg_read_server_files to app;\n\
         grant authenticator to app;\n",
        expect![[r#"
            m/1_a.sql:1 ReservedRole supabase_admin: `alter role supabase_admin`: `supabase_admin` is reserved by supautils (reserved_roles): `postgres` may not create, alter, drop or rename it
            m/1_a.sql:2 ReservedRole authenticator: `alter role authenticator`: `authenticator` is reserved by supautils (reserved_roles): `postgres` may change its settings (`alter role ... set`), nothing else
            m/1_a.sql:3 ReservedRole supabase_auth_admin: `alter role supabase_auth_admin`: `supabase_auth_admin` is reserved by supautils (reserved_roles): `postgres` may not create, alter, drop or rename it
            m/1_a.sql:4 ReservedRole anon: `drop role anon`: `anon` is reserved by supautils (reserved_roles): `postgres` may change its settings (`alter role ... set`), nothing else
            m/1_a.sql:5 ReservedRole dashboard_user: `alter role dashboard_user`: `dashboard_user` is reserved by supautils (reserved_roles): `postgres` may not create, alter, drop or rename it
            m/1_a.sql:6 ReservedRole pg_read_server_files: `grant pg_read_server_files to ...`: supautils reserves membership in `pg_read_server_files` (reserved_memberships): `postgres` may grant it to nobody
            m/1_a.sql:7 ReservedRole authenticator: `grant authenticator to ...`: supautils reserves membership in `authenticator` (reserved_memberships): `postgres` may grant it to nobody
        "#]],
    );
}

#[test]
fn the_platforms_allowed_patterns_pass() {
    check(
        "create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, name text);\n\
         alter table public.profiles enable row level security;\n\
         create policy \"own profile\" on public.profiles for select using (auth.uid() = id);\n\
         create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$\n\
         begin insert into public.profiles (id) values (new.id); return new; end $$;\n\
         create trigger on_auth_user_created after insert on auth.users for each row execute function public.handle_new_user();\n\
         drop trigger if exists on_auth_user_created on auth.users;\n\
         create policy \"own files\" on storage.objects for select to authenticated using (auth.uid() = owner);\n\
         alter policy \"own files\" on storage.objects using (auth.uid() = owner_id::uuid);\n\
         drop policy if exists \"own files\" on storage.objects;\n\
         create extension if not exists pgcrypto with schema extensions;\n\
         create extension pg_trgm; create extension citext; create extension \"uuid-ossp\"; create extension vector;\n\
         create extension pgmq; create extension pg_cron; create extension pg_net; create extension http;\n\
         create extension wrappers; create extension pgsodium; create extension pg_graphql; create extension lo;\n\
         grant select on public.profiles to anon, authenticated;\n\
         grant all on public.profiles to service_role;\n\
         grant select on auth.users to service_role;\n\
         revoke all on public.profiles from anon;\n\
         alter role authenticated set statement_timeout = '15s';\n\
         alter role anon reset statement_timeout;\n\
         select cron.schedule('nightly', '0 3 * * *', $$ delete from public.profiles where name is null $$);\n\
         insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);\n\
         truncate public.profiles;\n\
         truncate auth.audit_log_entries;\n\
         create event trigger ev on ddl_command_end execute function public.on_ddl();\n\
         copy public.profiles from stdin;\n\
         create role app_reader nologin;\n\
         grant app_reader to authenticated;\n",
        expect![[r#""#]],
    );
}

#[test]
fn objects_an_earlier_file_created_stay_alterable() {
    let files = [
        (
            "m/1_old.sql",
            "create table auth.legacy (id int);\ncreate function auth.legacy_fn() returns int language sql as $$ select 1 $$;\n",
        ),
        (
            "m/2_new.sql",
            "alter table auth.legacy add column note text;\ncomment on function auth.legacy_fn() is 'x';\ndrop table auth.legacy;\nalter table auth.users add column x int;\n",
        ),
    ];
    expect![[r#"
        m/1_old.sql:1 RestrictedSchema auth.legacy: `create table` of `auth.legacy`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
        m/1_old.sql:2 RestrictedSchema auth.legacy_fn: `create function` of `auth.legacy_fn`: since April 2025 the platform refuses new objects in schema `auth` to `postgres` (it has no CREATE there): it fails with "permission denied for schema auth"
        m/2_new.sql:4 Ownership auth.users: on the hosted platform `postgres` does not own `auth.users` (supabase_auth_admin does): `alter table` on it fails with "must be owner of table users"; supautils lets `postgres` manage policies and drop triggers on it, nothing else
    "#]].assert_eq(&render(&files));
}

#[test]
fn findings_carry_the_code_the_place_and_the_fix() {
    let a = parse("select 1;\nalter system set work_mem = '64MB';\n");
    let found = findings(&refusals([("migrations/1_a.sql", &a)], &Supautils::shipped()));
    let rendered: Vec<String> = found
        .iter()
        .map(|f| {
            format!(
                "{}[{}] {}:{}:{} {}\nfix: {}",
                f.severity.as_str(),
                f.code,
                f.file,
                f.pos.line,
                f.pos.col,
                f.message,
                f.fix
            )
        })
        .collect();
    expect![[r#"
        error[platform-refuses] migrations/1_a.sql:2:1 `alter system` needs a superuser; on the platform `postgres` is not one
        fix: remove it from the migration: the platform does not let `postgres` do this; ask for what the statement needs through the dashboard or Supabase support"#]].assert_eq(&rendered.join("\n"));
}
