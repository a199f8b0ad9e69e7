-- What the Data API's roles (anon, authenticated) can reach in the exposed schemas ($1): one JSON document in
-- the shape of `domain::exposure::Snapshot`. Privileges are asked of the server (has_*_privilege), so what
-- PUBLIC, role memberships and column grants give is counted as the server counts it. Extension members are
-- left out: they are the extension's, not the batch's.
with api as (
  select rolname from pg_roles where rolname in ('anon', 'authenticated')
), exposed as (
  select n.oid, n.nspname from pg_namespace n where n.nspname = any ($1::text[])
), ext as (
  select objid from pg_depend where deptype = 'e'
), rels as (
  select c.oid, format('%I.%I', x.nspname, c.relname) as name, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
    coalesce(c.reloptions::text[] && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1'], false) as invoker
  from pg_class c join exposed x on x.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f') and c.oid not in (select objid from ext)
), reads as (
  -- What a view or materialized view reads, through views it reads (tables and views, with their RLS).
  with recursive r(view, rel) as (
    select rw.ev_class, d.refobjid from pg_rewrite rw
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid and d.refclassid = 'pg_class'::regclass
    where rw.ev_class in (select oid from rels where relkind in ('v', 'm')) and d.refobjid <> rw.ev_class
    union
    select r.view, d.refobjid from r join pg_rewrite rw on rw.ev_class = r.rel
      join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid and d.refclassid = 'pg_class'::regclass
    where d.refobjid <> rw.ev_class
  )
  select distinct r.view, format('%I.%I', n.nspname, c.relname) as name, c.relrowsecurity
  from r join pg_class c on c.oid = r.rel join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'f', 'm')
), access as (
  select r.oid, a.rolname,
    array(select p from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
          where has_table_privilege(a.rolname, r.oid, p)) as whole,
    array(select format('%s (%s)', p, string_agg(quote_ident(att.attname), ', ' order by att.attnum))
          from unnest(array['SELECT', 'INSERT', 'UPDATE']) p
            join pg_attribute att on att.attrelid = r.oid and att.attnum > 0 and not att.attisdropped
          where not has_table_privilege(a.rolname, r.oid, p) and has_column_privilege(a.rolname, r.oid, att.attnum, p)
          group by p order by p) as columns
  from rels r cross join api a
), funcs as (
  select format('%I.%I(%s)', x.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as name, p.prosecdef,
    exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%') as fixed,
    array(select a.rolname from api a where has_function_privilege(a.rolname, p.oid, 'EXECUTE') order by 1) as callers
  from pg_proc p join exposed x on x.oid = p.pronamespace
  where p.prokind = 'f' and p.oid not in (select objid from ext)
    -- Trigger functions cannot be called over /rpc (the Data API leaves them out).
    and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)
), pols as (
  select format('%I on %s', p.polname, r.name) as name,
    case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end as cmd,
    array(select case when g = 0 then 'public' else pg_get_userbyid(g)::text end from unnest(p.polroles) g order by 1) as roles,
    p.polpermissive, pg_get_expr(p.polqual, p.polrelid) as using_expr, pg_get_expr(p.polwithcheck, p.polrelid) as check_expr
  from pg_policy p join rels r on r.oid = p.polrelid
), defaults as (
  select format('for role %s%s on %s', pg_get_userbyid(d.defaclrole),
      coalesce(' in schema ' || quote_ident(n.nspname), ''),
      case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions' when 'T' then 'types' else 'schemas' end) as name,
    string_agg(format('%s: %s', case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee)::text end, g.privs), '; ' order by g.grantee) as grants
  from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
    cross join lateral (
      select a.grantee, string_agg(a.privilege_type, ', ' order by a.privilege_type) as privs from aclexplode(d.defaclacl) a
      where a.grantee = 0 or a.grantee in (select oid from pg_roles where rolname in (select rolname from api))
      group by a.grantee) g
  where (d.defaclnamespace = 0 or d.defaclnamespace in (select oid from exposed))
    and pg_get_userbyid(d.defaclrole) !~ '^(pg_|cli_login_|xtask_)'
  group by 1
)
select json_build_object(
  'relations', coalesce((select json_object_agg(r.name, json_build_object(
      'kind', case r.relkind when 'v' then 'view' when 'm' then 'materialized_view' when 'f' then 'foreign_table' else 'table' end,
      'rls', r.relrowsecurity, 'force', r.relforcerowsecurity, 'security_invoker', r.invoker,
      'access', coalesce((select json_object_agg(a.rolname, json_build_object('table', a.whole, 'columns', a.columns))
                          from access a where a.oid = r.oid and (cardinality(a.whole) > 0 or cardinality(a.columns) > 0)), '{}'),
      'reads', coalesce((select json_object_agg(d.name, d.relrowsecurity) from reads d where d.view = r.oid), '{}')))
    from rels r), '{}'),
  'functions', coalesce((select json_object_agg(f.name, json_build_object(
      'security_definer', f.prosecdef, 'search_path_fixed', f.fixed, 'executable_by', f.callers)) from funcs f), '{}'),
  'policies', coalesce((select json_object_agg(p.name, json_build_object(
      'command', p.cmd, 'roles', p.roles, 'permissive', p.polpermissive, 'using', p.using_expr, 'with_check', p.check_expr))
    from pols p), '{}'),
  'schemas', coalesce((select json_object_agg(x.nspname,
      array(select a.rolname from api a where has_schema_privilege(a.rolname, x.oid, 'USAGE') order by 1)) from exposed x), '{}'),
  'defaults', coalesce((select json_object_agg(d.name, d.grants) from defaults d), '{}')
)::text
