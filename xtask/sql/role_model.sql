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
-- What the history phase gave `postgres` (supabase_xtask.grant_historic), to be given back.
create table if not exists supabase_xtask.historic_owners (
  kind text not null,
  objid oid not null,
  owner oid not null,
  primary key (kind, objid)
);

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
    insert into supabase_xtask.managed (relid, platform_owner, policies, drop_triggers)
    values (rel, owner, t = any(:policy_grants::text[]), t = any(:drop_trigger_grants::text[]))
    on conflict (relid) do update set policies = excluded.policies, drop_triggers = excluded.drop_triggers;
    execute format('alter table %s owner to postgres', rel);
  end loop;
end
$$;

-- The table a DDL command is about, when it is about one (an index, trigger, constraint, rule or default of it).
create or replace function supabase_xtask.table_of(classid oid, objid oid) returns oid
language sql stable as $$
  select case classid
    when 'pg_class'::regclass then coalesce((select indrelid from pg_index where indexrelid = objid), objid)
    when 'pg_trigger'::regclass then (select tgrelid from pg_trigger where oid = objid)
    when 'pg_constraint'::regclass then (select conrelid from pg_constraint where oid = objid)
    when 'pg_rewrite'::regclass then (select ev_class from pg_rewrite where oid = objid)
    when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = objid)
  end
$$;

create or replace function supabase_xtask.refuse(rel oid, owner name) returns void
language plpgsql set search_path = pg_catalog as $$
begin
  raise exception 'must be owner of table %', (select relname from pg_class where oid = rel)
    using errcode = '42501',
          detail = format('on the hosted platform `postgres` does not own %s (%s does); supautils lets it manage policies%s on it, nothing else',
                          rel::regclass, owner,
                          case when (select drop_triggers from supabase_xtask.managed where relid = rel) then ' and drop triggers' else '' end),
          hint = 'keep the application''s objects in public or a schema of its own; a trigger on the managed table calling a function there is allowed';
end
$$;

-- ddl_command_end: anything but policies, new triggers and grants on a managed table, by anyone but a superuser.
create or replace function supabase_xtask.guard_ddl() returns event_trigger
language plpgsql security definer set search_path = pg_catalog as $$
declare
  r record;
  m record;
begin
  -- session_user: these run as their owner (security definer), the command as whoever connected.
  if (select rolsuper from pg_roles where rolname = session_user) then
    return;
  end if;
  for r in select * from pg_event_trigger_ddl_commands() loop
    continue when r.command_tag in ('CREATE POLICY', 'ALTER POLICY', 'CREATE TRIGGER', 'GRANT', 'REVOKE');
    select * into m from supabase_xtask.managed where relid = supabase_xtask.table_of(r.classid, r.objid);
    if found then
      perform supabase_xtask.refuse(m.relid, m.platform_owner);
    end if;
  end loop;
end
$$;

-- sql_drop: dropping a managed table, or a constraint or rule of one; its policies and triggers (drop_trigger_grants) may go.
create or replace function supabase_xtask.guard_drop() returns event_trigger
language plpgsql security definer set search_path = pg_catalog as $$
declare
  d record;
  m record;
begin
  -- session_user: these run as their owner (security definer), the command as whoever connected.
  if (select rolsuper from pg_roles where rolname = session_user) then
    return;
  end if;
  for d in select * from pg_event_trigger_dropped_objects() where not is_temporary loop
    for m in select * from supabase_xtask.managed loop
      if (d.object_type = 'table' and d.objid = m.relid)
         or (d.object_type in ('table constraint', 'rule', 'default value')
             and d.object_identity like '% on ' || m.relid::regclass::text)
         or (d.object_type = 'trigger' and not m.drop_triggers
             and d.object_identity like '% on ' || m.relid::regclass::text) then
        perform supabase_xtask.refuse(m.relid, m.platform_owner);
      end if;
    end loop;
  end loop;
end
$$;

drop event trigger if exists supabase_xtask_guard_ddl;
create event trigger supabase_xtask_guard_ddl on ddl_command_end execute function supabase_xtask.guard_ddl();
drop event trigger if exists supabase_xtask_guard_drop;
create event trigger supabase_xtask_guard_drop on sql_drop execute function supabase_xtask.guard_drop();

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
    select 'pg_class' as kind, c.oid, c.relowner as owner,
           format('alter %s %s owner to postgres',
                  case c.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence'
                                 when 'f' then 'foreign table' when 'c' then 'type' else 'table' end, c.oid::regclass) as stmt
    from pg_class c
    where c.relnamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c') and c.relowner <> 'postgres'::regrole
      and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i'))
    union all
    select 'pg_proc', p.oid, p.proowner, format('alter routine %s owner to postgres', p.oid::regprocedure)
    from pg_proc p
    where p.pronamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and p.proowner <> 'postgres'::regrole
    union all
    select 'pg_type', t.oid, t.typowner, format('alter type %s owner to postgres', t.oid::regtype)
    from pg_type t
    where t.typnamespace in (select oid from pg_namespace where nspname in ('auth', 'storage', 'realtime'))
      and t.typtype in ('e', 'r') and t.typowner <> 'postgres'::regrole
  loop
    insert into supabase_xtask.historic_owners values (o.kind, o.oid, o.owner) on conflict do nothing;
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
begin
  for o in select * from supabase_xtask.historic_owners loop
    case o.kind
      when 'pg_class' then
        if exists (select 1 from pg_class where oid = o.objid) then
          execute format('alter %s %s owner to %I',
                         case (select relkind from pg_class where oid = o.objid) when 'v' then 'view' when 'm' then 'materialized view'
                              when 'S' then 'sequence' when 'f' then 'foreign table' when 'c' then 'type' else 'table' end,
                         o.objid::regclass, pg_get_userbyid(o.owner));
        end if;
      when 'pg_proc' then
        if exists (select 1 from pg_proc where oid = o.objid) then
          execute format('alter routine %s owner to %I', o.objid::regprocedure, pg_get_userbyid(o.owner));
        end if;
      else
        if exists (select 1 from pg_type where oid = o.objid) then
          execute format('alter type %s owner to %I', o.objid::regtype, pg_get_userbyid(o.owner));
        end if;
    end case;
  end loop;
  delete from supabase_xtask.historic_owners;
  execute 'revoke create on schema ' || (select string_agg(quote_ident(n), ', ') from unnest(array['auth', 'storage', 'realtime']) n
                                         where to_regnamespace(n) is not null) || ' from postgres';
  alter event trigger supabase_xtask_guard_ddl enable;
  alter event trigger supabase_xtask_guard_drop enable;
end
$$;

revoke all on all functions in schema supabase_xtask from public;
