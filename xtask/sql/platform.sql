-- The platform-managed part of a Supabase database as DDL, in one statement (run directly, or through
-- `supabase db query`, giving the same text): roles, the platform schemas with their types, sequences, tables,
-- constraints, indexes, functions, views, triggers, RLS policies and grants, and the installed extensions with
-- their versions. Objects that belong to an extension are left to `create extension`. Each statement is preceded
-- by a `--> kind name` line, which is how the xtask applies them one by one.
with schemas as (
  select n.oid, n.nspname from pg_namespace n where n.nspname = any (:schemas)
), ext_objects as (
  select objid from pg_depend where deptype = 'e'
), rels as (
  select c.*, s.nspname from pg_class c join schemas s on s.oid = c.relnamespace
  where c.oid not in (select objid from ext_objects)
), parts as (
  -- roles the platform defines (not Postgres' own)
  select 1 as ord, r.rolname::text as name,
    format('do $r$ begin if not exists (select 1 from pg_roles where rolname = %L) then create role %I %s; end if; end $r$;',
      r.rolname, r.rolname,
      concat_ws(' ', case when r.rolcanlogin then 'login' else 'nologin' end,
        case when r.rolinherit then 'inherit' else 'noinherit' end,
        case when r.rolbypassrls then 'bypassrls' end, case when r.rolcreaterole then 'createrole' end)) as ddl,
    'role' as kind
  from pg_roles r
  where r.rolname !~ '^pg_' and r.rolname not in ('postgres') and r.rolname !~ '^cli_login_' and r.rolname !~ '^xtask_'
  union all
  select 2, format('%I to %I', pg_get_userbyid(m.roleid), pg_get_userbyid(m.member)),
    format('grant %I to %I;', pg_get_userbyid(m.roleid), pg_get_userbyid(m.member)), 'membership'
  from pg_auth_members m
  where pg_get_userbyid(m.roleid) !~ '^pg_' and pg_get_userbyid(m.member) !~ '^(pg_|cli_login_|xtask_)'
    and pg_get_userbyid(m.member) <> 'postgres'
  union all
  select 2, s.nspname::text, format('create schema if not exists %I;', s.nspname), 'schema' from schemas s
  union all
  select 3, e.extname::text,
    format('-- version %s on the target%screate extension if not exists %I with schema %I;', e.extversion, chr(10), e.extname, n.nspname),
    'extension'
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql'
  union all
  select 4, format('%I.%I', s.nspname, t.typname),
    format('create type %I.%I as enum (%s);', s.nspname, t.typname,
      (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid)),
    'type'
  from pg_type t join schemas s on s.oid = t.typnamespace where t.typtype = 'e' and t.oid not in (select objid from ext_objects)
  union all
  select 5, format('%I.%I', r.nspname, r.relname), format('create sequence if not exists %I.%I;', r.nspname, r.relname), 'sequence'
  from rels r where r.relkind = 'S'
  union all
  select case when r.relispartition then 7 else 6 end, format('%I.%I', r.nspname, r.relname),
    case when r.relispartition then
      format('create table if not exists %I.%I partition of %s %s;', r.nspname, r.relname,
        (select i.inhparent::regclass::text from pg_inherits i where i.inhrelid = r.oid), pg_get_expr(r.relpartbound, r.oid))
    else
      format('create table if not exists %I.%I (%s)%s;', r.nspname, r.relname,
        coalesce((select string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
            case when a.attgenerated = 's' then format(' generated always as (%s) stored', pg_get_expr(d.adbin, d.adrelid))
                 when d.adbin is not null then format(' default %s', pg_get_expr(d.adbin, d.adrelid)) else '' end,
            case when a.attnotnull then ' not null' else '' end), ', ' order by a.attnum)
          from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped), ''),
        case when r.relkind = 'p' then ' partition by ' || pg_get_partkeydef(r.oid) else '' end)
    end,
    'table'
  from rels r where r.relkind in ('r', 'p')
  union all
  -- Foreign keys last (99): they need the keys and unique indexes they reference, which other tables' names
  -- may sort after.
  select case con.contype when 'f' then 99 else 8 end, format('%I.%I.%I', r.nspname, r.relname, con.conname),
    format('alter table %I.%I add constraint %I %s;', r.nspname, r.relname, con.conname, pg_get_constraintdef(con.oid)),
    case con.contype when 'f' then 'foreign-key' else 'constraint' end
  from pg_constraint con join rels r on r.oid = con.conrelid
  where con.contype in ('p', 'u', 'c', 'f', 'x') and con.conislocal and not r.relispartition
  union all
  select 9, format('%I.%I', r.nspname, ic.relname), pg_get_indexdef(ic.oid) || ';', 'index'
  from pg_index i join pg_class ic on ic.oid = i.indexrelid join rels r on r.oid = i.indrelid
  where not exists (select 1 from pg_constraint con where con.conindid = i.indexrelid)
    and not exists (select 1 from pg_inherits h where h.inhrelid = ic.oid)
  union all
  select 10, format('%I.%I(%s)', s.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
    pg_get_functiondef(p.oid) || ';', 'function'
  from pg_proc p join schemas s on s.oid = p.pronamespace
  where p.prokind in ('f', 'p') and p.oid not in (select objid from ext_objects)
  union all
  select 11, format('%I.%I', r.nspname, r.relname),
    format('create or replace view %I.%I as %s', r.nspname, r.relname, pg_get_viewdef(r.oid)), 'view'
  from rels r where r.relkind = 'v'
  union all
  select 12, format('%I.%I.%I', r.nspname, r.relname, t.tgname), pg_get_triggerdef(t.oid) || ';', 'trigger'
  from pg_trigger t join rels r on r.oid = t.tgrelid where not t.tgisinternal and t.tgparentid = 0
  union all
  select 13, format('%I.%I', r.nspname, r.relname), format('alter table %I.%I enable row level security;', r.nspname, r.relname), 'rls'
  from rels r where r.relrowsecurity and not r.relispartition
  union all
  select 14, format('%I.%I.%I', r.nspname, r.relname, pol.polname),
    format('create policy %I on %I.%I as %s for %s to %s%s%s;', pol.polname, r.nspname, r.relname,
      case when pol.polpermissive then 'permissive' else 'restrictive' end,
      case pol.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
      coalesce((select string_agg(case when x = 0 then 'public' else quote_ident(pg_get_userbyid(x)) end, ', ') from unnest(pol.polroles) x), 'public'),
      coalesce(' using (' || pg_get_expr(pol.polqual, pol.polrelid) || ')', ''),
      coalesce(' with check (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')', '')),
    'policy'
  from pg_policy pol join rels r on r.oid = pol.polrelid
  union all
  select 15, format('%I on %I', s.nspname, pg_get_userbyid(a.grantee)),
    format('grant usage on schema %I to %I;', s.nspname, pg_get_userbyid(a.grantee)), 'grant'
  from schemas s join pg_namespace n on n.oid = s.oid, aclexplode(n.nspacl) a
  where a.privilege_type = 'USAGE' and a.grantee <> 0 and pg_get_userbyid(a.grantee) !~ '^pg_'
  union all
  select 16, format('%I.%I to %I', r.nspname, r.relname, pg_get_userbyid(a.grantee)),
    format('grant %s on %I.%I to %I;', string_agg(a.privilege_type, ', ' order by a.privilege_type), r.nspname, r.relname, pg_get_userbyid(a.grantee)),
    'grant'
  from rels r, aclexplode(r.relacl) a
  where r.relkind in ('r', 'p', 'v', 'm', 'S') and a.grantee <> 0 and pg_get_userbyid(a.grantee) !~ '^pg_'
  group by r.nspname, r.relname, a.grantee
)
select coalesce(string_agg(format('--> %s %s%s%s', kind, name, chr(10), ddl), chr(10) || chr(10) order by ord, name, kind, ddl), '') as ddl
from parts
