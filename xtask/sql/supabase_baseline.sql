-- The parts of a hosted Supabase database that application migrations rely on, for local and shadow databases.
-- Applied once when the xtask creates a database. Idempotent: roles are cluster-wide and may already exist.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then create role authenticator login noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then create role supabase_admin nologin superuser; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then create role supabase_auth_admin nologin noinherit createrole; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then create role supabase_storage_admin nologin noinherit createrole; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then create role supabase_realtime_admin nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'dashboard_user') then create role dashboard_user nologin createrole createdb replication; end if;
  if not exists (select 1 from pg_roles where rolname = 'pgbouncer') then create role pgbouncer nologin; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_functions_admin') then create role supabase_functions_admin nologin noinherit createrole; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_replication_admin') then create role supabase_replication_admin nologin replication; end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_read_only_user') then create role supabase_read_only_user nologin bypassrls; end if;
  -- `postgres` as the platform has it: not a superuser (the cluster made it so; an older database's is fixed here).
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login nosuperuser createdb createrole replication bypassrls;
  end if;
  -- On 16 and later the platform gives `postgres` the API roles with ADMIN OPTION (20250605172253).
  if current_setting('server_version_num')::int >= 160000 then
    grant anon, authenticated, service_role to postgres with admin option;
  else
    grant anon, authenticated, service_role to postgres;
  end if;
end
$$;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
grant anon, authenticated, service_role to authenticator;

create schema if not exists extensions;
create schema if not exists auth;
create schema if not exists storage;
create schema if not exists realtime;
create schema if not exists vault;
create schema if not exists supabase_functions;
grant usage on schema public, extensions to anon, authenticated, service_role;
grant usage on schema auth, storage to anon, authenticated, service_role;

do $$ begin execute format('alter database %I set search_path = "$user", public, extensions', current_database()); end $$;
set search_path = "$user", public, extensions;

create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists citext with schema extensions;

-- pg_cron, in pg_catalog as the platform places it: the real one only where it is installed and preloaded
-- (Debian: postgresql-15-cron), in the database named by cron.database_name; the stand-in (xtask/extensions:
-- jobs recorded, never run) needs no preload, so wherever it is the available pg_cron.
do $$
begin
  if exists (select 1 from pg_available_extensions
             where name = 'pg_cron'
               and (comment like 'stand-in%' or current_setting('cron.database_name', true) = current_database())) then
    create extension if not exists pg_cron with schema pg_catalog;
    -- The platform's grants (20231020085357, 20260730000000): jobs are made through cron.schedule, not written.
    grant usage on schema cron to postgres with grant option;
    grant select on cron.job to postgres with grant option;
    grant select, insert, update, delete, truncate, references on cron.job_run_details to postgres with grant option;
    grant execute on all functions in schema cron to postgres with grant option;
  end if;
end
$$;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255) unique,
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  phone text unique,
  is_anonymous boolean not null default false
);
-- The current column set (Supabase auth's migrations), added to tables an older baseline made.
alter table auth.users
  add column if not exists invited_at timestamptz,
  add column if not exists confirmation_token varchar(255),
  add column if not exists confirmation_sent_at timestamptz,
  add column if not exists recovery_token varchar(255),
  add column if not exists recovery_sent_at timestamptz,
  add column if not exists email_change_token_new varchar(255),
  add column if not exists email_change varchar(255),
  add column if not exists email_change_sent_at timestamptz,
  add column if not exists last_sign_in_at timestamptz,
  add column if not exists phone_confirmed_at timestamptz,
  add column if not exists phone_change text default '',
  add column if not exists phone_change_token varchar(255) default '',
  add column if not exists phone_change_sent_at timestamptz,
  add column if not exists email_change_token_current varchar(255) default '',
  add column if not exists email_change_confirm_status smallint default 0 check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  add column if not exists banned_until timestamptz,
  add column if not exists reauthentication_token varchar(255) default '',
  add column if not exists reauthentication_sent_at timestamptz,
  add column if not exists is_sso_user boolean not null default false,
  add column if not exists deleted_at timestamptz;
do $$
begin
  if not exists (select 1 from pg_attribute where attrelid = 'auth.users'::regclass and attname = 'confirmed_at') then
    alter table auth.users add column confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored;
  end if;
  if not exists (select 1 from pg_type where typname = 'aal_level' and typnamespace = 'auth'::regnamespace) then
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
    create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
    create type auth.factor_status as enum ('unverified', 'verified');
  end if;
end
$$;

create table if not exists auth.identities (
  id uuid primary key default gen_random_uuid(),
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  email text generated always as (lower(identity_data ->> 'email')) stored,
  unique (provider_id, provider)
);

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal auth.aal_level,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet,
  tag text
);

create table if not exists auth.mfa_factors (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text,
  last_challenged_at timestamptz unique
);

create table if not exists auth.mfa_challenges (
  id uuid primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null,
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);

create table if not exists auth.mfa_amr_claims (
  id uuid primary key,
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  authentication_method text not null,
  unique (session_id, authentication_method)
);

create or replace function auth.uid() returns uuid language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to anon, authenticated, service_role;

create table if not exists storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  public boolean default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now()
);
alter table storage.objects enable row level security;

create or replace function storage.foldername(name text) returns text[] language plpgsql immutable as $$
declare _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text language plpgsql immutable as $$
declare _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$$;

alter table storage.buckets
  add column if not exists avif_autodetection boolean default false,
  add column if not exists file_size_limit bigint,
  add column if not exists allowed_mime_types text[],
  add column if not exists owner_id text;
alter table storage.objects
  add column if not exists version text,
  add column if not exists owner_id text,
  add column if not exists user_metadata jsonb;
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);
alter table storage.buckets enable row level security;

create or replace function storage.extension(name text) returns text language plpgsql immutable as $$
declare _parts text[]; _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

grant select, insert, update, delete on storage.objects, storage.buckets to anon, authenticated, service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text) to anon, authenticated, service_role;

-- Realtime's broadcast/presence authorization table: apps write policies on it. Its current columns (Supabase
-- Realtime's tenant migrations); tables an older baseline made are aligned below.
create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  primary key (id, inserted_at)
) partition by range (inserted_at);
-- The platform's Realtime creates a partition per day; one default partition takes every row here.
create table if not exists realtime.messages_default partition of realtime.messages default;
alter table realtime.messages
  add column if not exists binary_payload bytea,
  alter column private set default false,
  alter column id set default gen_random_uuid();
do $$
begin
  if not exists (select 1 from pg_constraint
                 where conrelid = 'realtime.messages'::regclass and conname = 'messages_payload_exclusive') then
    alter table realtime.messages
      add constraint messages_payload_exclusive check (payload is null or binary_payload is null) not valid;
  end if;
end
$$;
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

-- The topic of the broadcast being authorized (Realtime sets realtime.topic); policies on realtime.messages call it.
create or replace function realtime.topic() returns text language sql stable as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Broadcast from the database: the message is stored in realtime.messages (Realtime would deliver it from there);
-- the payload gets an "id" when it has none. Failures are a warning, never an error, as on the platform.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $$
declare
  message_id uuid := gen_random_uuid();
begin
  begin
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (message_id,
            case when payload ? 'id' then payload else jsonb_set(payload, '{id}', to_jsonb(message_id)) end,
            event, topic, private, 'broadcast');
  exception when others then
    raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;

create or replace function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
returns void language plpgsql as $$
begin
  begin
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, binary_payload, event, topic, private, extension)
    values (gen_random_uuid(), payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;

-- For row triggers: broadcasts the change (old and new row, operation, table) to topic_name.
create or replace function realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text,
                                                      table_schema text, new record, old record, level text default 'ROW')
returns void language plpgsql as $$
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  perform realtime.send(jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                                           'table', table_name, 'schema', table_schema),
                        event_name, topic_name);
exception when others then
  raise exception 'Failed to process the row: %', sqlerrm;
end
$$;

-- Every project has schema graphql (where `create extension pg_graphql with schema graphql` puts it) and
-- GraphQL's public entry point in graphql_public; while pg_graphql is not installed the platform keeps a
-- placeholder there (creating pg_graphql replaces it with the resolver).
create schema if not exists graphql;
create schema if not exists graphql_public;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;
do $$
begin
  if not exists (select 1 from pg_proc where pronamespace = 'graphql_public'::regnamespace and proname = 'graphql') then
    create function graphql_public.graphql("operationName" text default null, query text default null,
                                           variables jsonb default null, extensions jsonb default null)
    returns jsonb language sql as $f$
      select jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('message', 'pg_graphql extension is not enabled.')))
    $f$;
  end if;
end
$$;

-- Database webhooks: the dashboard writes `execute function supabase_functions.http_request(url, method,
-- headers, params, timeout)`. Locally the request is recorded, not sent.
create table if not exists supabase_functions.hooks (
  id bigserial primary key,
  hook_table_id integer not null,
  hook_name text not null,
  created_at timestamptz not null default now(),
  request_id bigint
);
create or replace function supabase_functions.http_request() returns trigger language plpgsql security definer as $$
begin
  insert into supabase_functions.hooks (hook_table_id, hook_name) values (tg_relid, tg_name);
  return coalesce(new, old);
end
$$;
grant usage on schema supabase_functions to postgres, anon, authenticated, service_role;
grant all on all tables in schema supabase_functions to service_role;

-- Vault: secrets kept encrypted on the platform; here the same shape, in clear (a local database only).
create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create or replace view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, key_id, nonce, created_at, updated_at from vault.secrets;
create or replace function vault.create_secret(new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null)
returns uuid language sql security definer set search_path = '' as $$
  insert into vault.secrets (secret, name, description, key_id) values (new_secret, new_name, new_description, new_key_id) returning id
$$;
create or replace function vault.update_secret(secret_id uuid, new_secret text default null, new_name text default null, new_description text default null, new_key_id uuid default null)
returns void language sql security definer set search_path = '' as $$
  update vault.secrets set secret = coalesce(new_secret, secret), name = coalesce(new_name, name),
    description = coalesce(new_description, description), key_id = coalesce(new_key_id, key_id), updated_at = now()
  where id = secret_id
$$;
grant usage on schema vault to postgres, service_role;

do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

-- Tables `postgres` (migrations) and `supabase_admin` create in public are the API roles' at once.
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;
grant all on all tables in schema auth to supabase_auth_admin, dashboard_user;
grant all on all tables in schema storage to supabase_storage_admin, dashboard_user;

-- Owners and grants as on a hosted project (docs/design.md, "The platform's role model", names the sources):
-- the managed schemas are the bootstrap superuser's, their objects their services'; `postgres` may use them but
-- create nothing in auth, storage or realtime (April 2025), and owns public, extensions and the publication.
alter schema extensions owner to postgres;
grant all on schema extensions to postgres with grant option;
alter schema auth owner to supabase_admin;
alter schema storage owner to supabase_admin;
alter schema realtime owner to supabase_admin;
alter schema vault owner to supabase_admin;
alter schema graphql owner to supabase_admin;
alter schema graphql_public owner to supabase_admin;
alter schema supabase_functions owner to supabase_admin;
grant all on schema auth to supabase_auth_admin;
grant all on schema storage to supabase_storage_admin;
grant all on schema realtime to supabase_realtime_admin with grant option;
grant usage on schema auth to postgres, dashboard_user;
grant usage on schema storage, realtime to postgres with grant option;
grant usage on schema graphql, graphql_public to postgres with grant option;
grant usage on schema graphql, graphql_public to anon, authenticated, service_role;
revoke create on schema auth, storage, realtime from postgres;
do $$
declare
  r record;
begin
  for r in select c.oid::regclass as rel, n.nspname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname in ('auth', 'storage', 'realtime', 'vault', 'supabase_functions') and c.relkind in ('r', 'p', 'v', 'S')
             -- what `postgres` owns here its history made (or the role model gave it): it stays `postgres`'s
             and c.relowner <> 'postgres'::regrole
             -- a sequence a column owns follows its table
             and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                                                  and d.objid = c.oid and d.refobjid <> c.oid and d.deptype in ('a', 'i')))
  loop
    execute format('alter %s %s owner to %I', case r.relkind when 'v' then 'view' when 'S' then 'sequence' else 'table' end, r.rel,
                   case r.nspname when 'auth' then 'supabase_auth_admin' when 'storage' then 'supabase_storage_admin'
                                  when 'realtime' then 'supabase_realtime_admin' when 'supabase_functions' then 'supabase_functions_admin'
                                  else 'supabase_admin' end);
  end loop;
  for r in select p.oid::regprocedure as fn, n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname in ('auth', 'storage', 'supabase_functions') and p.proowner <> 'postgres'::regrole
  loop
    execute format('alter function %s owner to %I', r.fn,
                   case r.nspname when 'auth' then 'supabase_auth_admin' when 'storage' then 'supabase_storage_admin'
                                  else 'supabase_functions_admin' end);
  end loop;
  for r in select t.oid::regtype as typ from pg_type t join pg_namespace n on n.oid = t.typnamespace
           where n.nspname = 'auth' and t.typtype = 'e' and t.typowner <> 'postgres'::regrole
  loop
    execute format('alter type %s owner to supabase_auth_admin', r.typ);
  end loop;
end
$$;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;
grant all on all routines in schema auth to postgres;
grant all on storage.buckets, storage.objects to postgres with grant option;
grant all on all tables in schema realtime to postgres, dashboard_user;
grant all on all routines in schema realtime to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth grant all on tables to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth grant all on sequences to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth grant all on routines to postgres, dashboard_user;
grant select, delete, references, truncate on vault.secrets, vault.decrypted_secrets to postgres;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) to postgres;
grant all on schema supabase_functions to supabase_functions_admin;
grant all on all tables in schema supabase_functions to postgres;
grant all on all sequences in schema supabase_functions to postgres;
alter publication supabase_realtime owner to postgres;
