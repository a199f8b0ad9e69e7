-- The hosted platform's role model on a local database, applied as the bootstrap superuser (supabase_admin)
-- after the baseline (the shipped one or a capture): what supautils does on the platform, as far as a vanilla
-- server can. `:policy_grants` and `:drop_trigger_grants` are replaced by text[] literals (the shipped lists or
-- the captured target's). Idempotent.

-- The database is the bootstrap superuser's; `postgres` may do everything in it and owns public.
do $$ begin execute format('grant all on database %I to postgres', current_database()); end $$;
alter schema public owner to postgres;
-- Realtime's publication is `postgres`'s on the platform: migrations add their tables to it.
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    alter publication supabase_realtime owner to postgres;
  end if;
end
$$;

create schema if not exists supabase_xtask;
revoke all on schema supabase_xtask from public;
comment on schema supabase_xtask is
  'cargo xtask: the platform role model''s guard (supautils'' grants, as a vanilla server can hold them)';

-- The managed tables whose policies `postgres` may manage (policy_grants) or whose triggers it may drop
-- (drop_trigger_grants), with the owner they have on the platform. A vanilla server lets only an owner manage
-- policies, so `postgres` owns them here; the guard below refuses it every other DDL on them.
create table if not exists supabase_xtask.managed (
  relid oid primary key,
  platform_owner name not null,
  policies boolean not null,
  drop_triggers boolean not null
);
-- Its name, for messages about a table a statement is dropping (gone from the catalog by then).
alter table supabase_xtask.managed add column if not exists qualified text;
-- What the history phase gave `postgres` (supabase_xtask.grant_historic), to be given back: each object's owner
-- and `postgres`'s own privileges on it, which a change of owner folds into the owner's.
create table if not exists supabase_xtask.historic_owners (
  kind text not null,
  objid oid not null,
  owner oid not null,
  primary key (kind, objid)
);
alter table supabase_xtask.historic_owners add column if not exists acl aclitem[];

do $$
declare
  t text;
  rel regclass;
  owner name;
begin
  foreach t in array (select array(select unnest(:policy_grants::text[]) union select unnest(:drop_trigger_grants::text[]))) loop
    rel := to_regclass(t);
    continue when rel is null;
    select coalesce((select platform_owner from supabase_xtask.managed where relid = rel),
                    (select pg_get_userbyid(relowner) from pg_class where oid = rel))
      into owner;
    insert into supabase_xtask.managed (relid, platform_owner, policies, drop_triggers, qualified)
    values (rel, owner, t = any(:policy_grants::text[]), t = any(:drop_trigger_grants::text[]), rel::text)
    on conflict (relid) do update
      set policies = excluded.policies, drop_triggers = excluded.drop_triggers, qualified = excluded.qualified;
    execute format('alter table %s owner to postgres', rel);
  end loop;
end
$$;

-- supautils lets `postgres` set these (privileged_role_allowed_configs); a vanilla server lets it once granted.
do $$
declare
  p text;
begin
  foreach p in array array['session_replication_role', 'track_io_timing', 'log_lock_waits', 'log_min_messages',
                           'log_min_duration_statement', 'log_statement', 'log_temp_files', 'log_replication_commands',
                           'wal_compression'] loop
    execute format('grant set on parameter %s to postgres', p);
  end loop;
end
$$;

-- The table a DDL command is about, when it is about one (an index, trigger, constraint, rule or default of it).
-- Every function here names pg_catalog's relations in full and searches pg_temp last: a session's temporary
-- view called pg_roles must not decide what the guard sees.
create or replace function supabase_xtask.table_of(classid oid, objid oid) returns oid
language sql stable set search_path = pg_catalog, pg_temp as $$
  select case classid
    when 'pg_catalog.pg_class'::pg_catalog.regclass
      then coalesce((select i.indrelid from pg_catalog.pg_index i where i.indexrelid = objid), objid)
    when 'pg_catalog.pg_trigger'::pg_catalog.regclass then (select t.tgrelid from pg_catalog.pg_trigger t where t.oid = objid)
    when 'pg_catalog.pg_constraint'::pg_catalog.regclass then (select c.conrelid from pg_catalog.pg_constraint c where c.oid = objid)
    when 'pg_catalog.pg_rewrite'::pg_catalog.regclass then (select r.ev_class from pg_catalog.pg_rewrite r where r.oid = objid)
    when 'pg_catalog.pg_attrdef'::pg_catalog.regclass then (select a.adrelid from pg_catalog.pg_attrdef a where a.oid = objid)
    when 'pg_catalog.pg_policy'::pg_catalog.regclass then (select p.polrelid from pg_catalog.pg_policy p where p.oid = objid)
  end
$$;

drop function if exists supabase_xtask.refuse(oid, name);
create or replace function supabase_xtask.refuse(m supabase_xtask.managed) returns void
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
  raise exception 'must be owner of table %', pg_catalog.split_part(m.qualified, '.', 2)
    using errcode = '42501',
          detail = pg_catalog.format('on the hosted platform `postgres` does not own %s (%s does); supautils lets it %s on it, nothing else',
                          m.qualified, m.platform_owner,
                          case when m.policies and m.drop_triggers then 'manage policies and drop triggers'
                               when m.policies then 'manage policies' else 'drop triggers' end),
          hint = 'keep the application''s objects in public or a schema of its own; a trigger on the managed table calling a function there is allowed';
end
$$;

-- session_user: these run as their owner (security definer), the command as whoever connected.
create or replace function supabase_xtask.by_superuser() returns boolean
language sql stable set search_path = pg_catalog, pg_temp as $$
  select coalesce((select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user), false)
$$;

-- ddl_command_end: on a managed table, policies (where policy_grants lists it), new triggers and grants pass;
-- anything else by anyone but a superuser is refused.
create or replace function supabase_xtask.guard_ddl() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  r record;
  m supabase_xtask.managed;
begin
  -- Only commands in a managed table's schema can be about one: an app's DDL in public costs one query.
  for r in select c.* from pg_catalog.pg_event_trigger_ddl_commands() c
           where c.schema_name in (select pg_catalog.split_part(mt.qualified, '.', 1) from supabase_xtask.managed mt) loop
    if supabase_xtask.by_superuser() then
      return;
    end if;
    continue when r.command_tag in ('CREATE TRIGGER', 'GRANT', 'REVOKE');
    select * into m from supabase_xtask.managed where relid = supabase_xtask.table_of(r.classid, r.objid);
    continue when not found;
    continue when r.command_tag in ('CREATE POLICY', 'ALTER POLICY', 'COMMENT') and m.policies
                  and r.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass;
    perform supabase_xtask.refuse(m);
  end loop;
end
$$;

-- sql_drop: of what the statement itself named (not what a drop cascades to, whose ownership Postgres does not
-- check), a managed table, or a constraint or rule of one; its policies (policy_grants) and triggers
-- (drop_trigger_grants) may go.
create or replace function supabase_xtask.guard_drop() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  d record;
  m supabase_xtask.managed;
begin
  for d in select o.* from pg_catalog.pg_event_trigger_dropped_objects() o
           where o.original and not o.is_temporary
             and o.schema_name in (select pg_catalog.split_part(mt.qualified, '.', 1) from supabase_xtask.managed mt) loop
    if supabase_xtask.by_superuser() then
      return;
    end if;
    for m in select * from supabase_xtask.managed loop
      if (d.object_type = 'table' and d.objid = m.relid)
         or (d.object_type in ('table constraint', 'rule', 'default value')
             and d.object_identity like '% on ' || m.qualified)
         or (d.object_type = 'trigger' and not m.drop_triggers and d.object_identity like '% on ' || m.qualified)
         or (d.object_type = 'policy' and not m.policies and d.object_identity like '% on ' || m.qualified) then
        perform supabase_xtask.refuse(m);
      end if;
    end loop;
  end loop;
end
$$;

drop event trigger if exists supabase_xtask_guard_ddl;
create event trigger supabase_xtask_guard_ddl on ddl_command_end execute function supabase_xtask.guard_ddl();
drop event trigger if exists supabase_xtask_guard_drop;
create event trigger supabase_xtask_guard_drop on sql_drop execute function supabase_xtask.guard_drop();
-- Also in `session_replication_role = replica`, which `postgres` may set.
alter event trigger supabase_xtask_guard_ddl enable always;
alter event trigger supabase_xtask_guard_drop enable always;

-- The word `alter ... owner to` takes for a relation of this kind.
create or replace function supabase_xtask.alter_keyword(relkind "char") returns text
language sql immutable as $$
  select case relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence'
                      when 'f' then 'foreign table' when 'c' then 'type' else 'table' end
$$;

-- The history phase: files a protected target applied ran under the rules of their day, when `postgres` could
-- create objects in the managed schemas and act as their owners. For their replay `postgres` is given CREATE on
-- those schemas and the ownership of what is in them (recorded), and the guard is off; `withdraw_historic`
-- gives everything back, so the batch runs under today's rules. What the history created stays `postgres`'s,
-- as on the platform.
create or replace function supabase_xtask.grant_historic() returns void
language plpgsql as $$
declare
  o record;
begin
  execute 'grant create on schema ' || (select string_agg(quote_ident(n), ', ') from unnest(array['auth', 'storage', 'realtime']) n
                                        where to_regnamespace(n) is not null) || ' to postgres';
  for o in
    select 'pg_class' as kind, c.oid, c.relowner as owner, c.relacl as acl,
           format('alter %s %s owner to postgres', supabase_xtask.alter_keyword(c.relkind), c.oid::regclass) as stmt
    from pg_class c
    where c.relnamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c') and c.relowner <> 'postgres'::regrole
      -- a sequence a column owns follows its table
      and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                                           and d.objid = c.oid and d.refobjid <> c.oid and d.deptype in ('a', 'i')))
    union all
    select 'pg_proc', p.oid, p.proowner, p.proacl, format('alter routine %s owner to postgres', p.oid::regprocedure)
    from pg_proc p
    where p.pronamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and p.proowner <> 'postgres'::regrole
    union all
    select 'pg_type', t.oid, t.typowner, t.typacl, format('alter type %s owner to postgres', t.oid::regtype)
    from pg_type t
    where t.typnamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and t.typtype in ('e', 'r') and t.typowner <> 'postgres'::regrole
  loop
    insert into supabase_xtask.historic_owners (kind, objid, owner, acl) values (o.kind, o.oid, o.owner, o.acl)
    on conflict do nothing;
    execute o.stmt;
  end loop;
  alter event trigger supabase_xtask_guard_ddl disable;
  alter event trigger supabase_xtask_guard_drop disable;
end
$$;

create or replace function supabase_xtask.withdraw_historic() returns void
language plpgsql as $$
declare
  o record;
  kind text;
  target text;
  p record;
begin
  for o in select * from supabase_xtask.historic_owners loop
    kind := null;
    case o.kind
      when 'pg_class' then
        select supabase_xtask.alter_keyword(c.relkind), c.oid::regclass::text
          into kind, target from pg_class c where c.oid = o.objid;
      when 'pg_proc' then
        select 'routine', o.objid::regprocedure::text into kind, target from pg_proc where oid = o.objid;
      else
        select 'type', o.objid::regtype::text into kind, target from pg_type where oid = o.objid;
    end case;
    continue when kind is null; -- the history dropped it
    execute format('alter %s %s owner to %I', kind, target, pg_get_userbyid(o.owner));
    -- The change of owner took `postgres`'s own privileges along: they are given back as they were.
    for p in select a.privilege_type, a.is_grantable from aclexplode(o.acl) a where a.grantee = 'postgres'::regrole loop
      execute format('grant %s on %s %s to postgres%s', p.privilege_type,
                     case kind when 'view' then 'table' when 'materialized view' then 'table' when 'foreign table' then 'table'
                               else kind end,
                     target, case when p.is_grantable then ' with grant option' else '' end);
    end loop;
  end loop;
  delete from supabase_xtask.historic_owners;
  execute 'revoke create on schema ' || (select string_agg(quote_ident(n), ', ') from unnest(array['auth', 'storage', 'realtime']) n
                                         where to_regnamespace(n) is not null) || ' from postgres';
  alter event trigger supabase_xtask_guard_ddl enable always;
  alter event trigger supabase_xtask_guard_drop enable always;
end
$$;

revoke all on all functions in schema supabase_xtask from public;
