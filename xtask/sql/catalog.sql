-- The schema catalog as one JSON document, read from pg_catalog in a single statement so that a direct
-- connection and `supabase db query` return the same bytes. `:excluded` is replaced by a text[] literal of
-- LIKE patterns (schemas left out: Supabase-managed ones by default). Objects owned by extensions are left out.
-- Tables that may not exist (cron.job, the history table) are read through query_to_xml inside CASE, so the
-- statement still plans on a database without them. `:lo`/`:hi` bound the tables' oids so that parts can be
-- read over concurrent connections (a range keeps the planner's row estimates right); `:rest` says whether
-- this part also reads the functions. One part over the whole range is the whole document.
with
nsp as (
  select n.oid, n.nspname
  from pg_namespace n
  where n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_%'
    and not n.nspname like any (:excluded)
),
ext_objs as (
  select objid from pg_depend where deptype = 'e'
),
supabase_roles as (
  select unnest(array['anon', 'authenticated', 'service_role', 'public']) as role
),
rels as (
  select c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
         coalesce(c.relacl, acldefault('r', c.relowner)) as acl
  from pg_class c
  join nsp n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and c.oid not in (select objid from ext_objs)
    and c.oid between :lo::oid and :hi::oid
),
cols as (
  select a.attrelid,
         json_agg(json_build_object(
           'name', a.attname,
           'type', format_type(a.atttypid, a.atttypmod),
           'nullable', not a.attnotnull,
           'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end,
           'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by default' end,
           'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end
         ) order by a.attnum) as v
  from pg_attribute a
  join rels r on r.oid = a.attrelid
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where a.attnum > 0 and not a.attisdropped
  group by a.attrelid
),
cons as (
  select k.conrelid,
         json_agg(json_build_object(
           'name', k.conname,
           'kind', case k.contype when 'p' then 'primary key' when 'u' then 'unique' when 'f' then 'foreign key'
                                  when 'c' then 'check' when 'x' then 'exclusion' else k.contype::text end,
           'definition', pg_get_constraintdef(k.oid)
         ) order by k.conname) as v
  from pg_constraint k
  join rels r on r.oid = k.conrelid
  where k.contype in ('p', 'u', 'f', 'c', 'x')
  group by k.conrelid
),
idx as (
  select i.indrelid,
         json_agg(json_build_object(
           'name', ic.relname,
           'definition', pg_get_indexdef(i.indexrelid),
           'valid', i.indisvalid
         ) order by ic.relname) as v
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid
  join rels r on r.oid = i.indrelid
  group by i.indrelid
),
pols as (
  select p.polrelid,
         json_agg(json_build_object(
           'name', p.polname,
           'command', case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                    when 'd' then 'delete' else 'all' end,
           'permissive', p.polpermissive,
           'roles', (select json_agg(case when x = 0 then 'public' else pg_get_userbyid(x)::text end order by 1)
                     from unnest(p.polroles) x),
           'using', pg_get_expr(p.polqual, p.polrelid),
           'with_check', pg_get_expr(p.polwithcheck, p.polrelid)
         ) order by p.polname) as v
  from pg_policy p
  join rels r on r.oid = p.polrelid
  group by p.polrelid
),
trgs as (
  select t.tgrelid,
         json_agg(json_build_object(
           'name', t.tgname,
           'definition', pg_get_triggerdef(t.oid),
           'enabled', t.tgenabled <> 'D'
         ) order by t.tgname) as v
  from pg_trigger t
  join rels r on r.oid = t.tgrelid
  where not t.tgisinternal
  group by t.tgrelid
),
rel_grants as (
  select g.oid, json_agg(json_build_object('grantee', g.grantee, 'privileges', g.privileges) order by g.grantee) as v
  from (
    select r.oid, x.grantee, json_agg(x.privilege_type order by x.privilege_type) as privileges
    from rels r
    cross join lateral (
      select distinct case when e.grantee = 0 then 'public' else pg_get_userbyid(e.grantee)::text end as grantee,
             e.privilege_type
      from aclexplode(r.acl) e
    ) x
    where x.grantee in (select role from supabase_roles)
    group by r.oid, x.grantee
  ) g
  group by g.oid
),
tables as (
  select json_agg(json_build_object(
           'schema', r.nspname,
           'name', r.relname,
           'kind', case r.relkind when 'r' then 'table' when 'p' then 'partitioned table' when 'v' then 'view'
                                  when 'm' then 'materialized view' else 'foreign table' end,
           'rls_enabled', r.relrowsecurity,
           'rls_forced', r.relforcerowsecurity,
           'definition', case when r.relkind in ('v', 'm') then pg_get_viewdef(r.oid) end,
           'columns', coalesce(c.v, '[]'),
           'constraints', coalesce(k.v, '[]'),
           'indexes', coalesce(i.v, '[]'),
           'policies', coalesce(p.v, '[]'),
           'triggers', coalesce(t.v, '[]'),
           'grants', coalesce(g.v, '[]')
         ) order by r.nspname, r.relname) as v
  from rels r
  left join cols c on c.attrelid = r.oid
  left join cons k on k.conrelid = r.oid
  left join idx i on i.indrelid = r.oid
  left join pols p on p.polrelid = r.oid
  left join trgs t on t.tgrelid = r.oid
  left join rel_grants g on g.oid = r.oid
),
procs as (
  select p.oid, n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) as args,
         coalesce(p.proacl, acldefault('f', p.proowner)) as acl, p.prokind, p.provolatile, p.prosecdef,
         p.proconfig, p.prosrc, p.prolang
  from pg_proc p
  join nsp n on n.oid = p.pronamespace
  where p.oid not in (select objid from ext_objs)
    and :rest
),
proc_grants as (
  select g.oid, json_agg(g.grantee order by g.grantee) as v
  from (
    select distinct p.oid, case when e.grantee = 0 then 'public' else pg_get_userbyid(e.grantee)::text end as grantee
    from procs p
    cross join lateral aclexplode(p.acl) e
    where e.privilege_type = 'EXECUTE'
  ) g
  where g.grantee in (select role from supabase_roles)
  group by g.oid
),
functions as (
  select json_agg(json_build_object(
           'schema', p.nspname,
           'name', p.proname,
           'arguments', p.args,
           'kind', case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window'
                                  else 'function' end,
           'returns', pg_get_function_result(p.oid),
           'language', l.lanname,
           'volatility', case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
           'security_definer', p.prosecdef,
           'config', coalesce(to_json(p.proconfig), '[]'),
           'body_md5', md5(coalesce(p.prosrc, '')),
           'execute', coalesce(g.v, '[]')
         ) order by p.nspname, p.proname, p.args) as v
  from procs p
  join pg_language l on l.oid = p.prolang
  left join proc_grants g on g.oid = p.oid
),
sequences as (
  select json_agg(json_build_object(
           'schema', n.nspname,
           'name', c.relname,
           'type', format_type(s.seqtypid, null),
           'start', s.seqstart,
           'increment', s.seqincrement,
           'owned_by', (select oc.relname || '.' || a.attname
                        from pg_depend d
                        join pg_class oc on oc.oid = d.refobjid
                        join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                        where d.objid = c.oid and d.classid = 'pg_class'::regclass and d.deptype in ('a', 'i')
                        limit 1)
         ) order by n.nspname, c.relname) as v
  from pg_sequence s
  join pg_class c on c.oid = s.seqrelid
  join nsp n on n.oid = c.relnamespace
  where c.oid not in (select objid from ext_objs)
),
enums as (
  select json_agg(json_build_object('schema', e.nspname, 'name', e.typname, 'values', e.labels)
                  order by e.nspname, e.typname) as v
  from (
    select n.nspname, t.typname, json_agg(x.enumlabel order by x.enumsortorder) as labels
    from pg_type t
    join nsp n on n.oid = t.typnamespace
    join pg_enum x on x.enumtypid = t.oid
    where t.oid not in (select objid from ext_objs)
    group by n.nspname, t.typname
  ) e
),
extensions as (
  select json_agg(json_build_object('name', e.extname, 'schema', n.nspname, 'version', e.extversion)
                  order by e.extname) as v
  from pg_extension e
  join pg_namespace n on n.oid = e.extnamespace
  where e.extname <> 'plpgsql'
),
publications as (
  select json_agg(json_build_object('name', p.pubname, 'all_tables', p.puballtables, 'tables',
           (select coalesce(json_agg(pt.schemaname || '.' || pt.tablename order by pt.schemaname, pt.tablename), '[]')
            from pg_publication_tables pt where pt.pubname = p.pubname and not p.puballtables))
         order by p.pubname) as v
  from pg_publication p
),
cron as (
  select case when to_regclass('cron.job') is null then null else (
    select coalesce(json_agg(json_build_object('name', x.jobname, 'schedule', x.schedule, 'command', x.command,
                                               'database', x.database, 'active', x.active)
                             order by x.jobname, x.command), '[]')
    from xmltable('/table/row' passing query_to_xml(
           'select jobname, schedule, command, database, active from cron.job', true, false, '')
         columns jobname text, schedule text, command text, database text, active boolean) x
  ) end as v
),
head as (
  select case when to_regclass('supabase_migrations.schema_migrations') is null then null else (
    select max(x.version)
    from xmltable('/table/row' passing query_to_xml(
           'select version from supabase_migrations.schema_migrations', true, false, '')
         columns version text) x
  ) end as v
)
select json_build_object(
  'head', (select v from head),
  'schemas', (select coalesce(json_agg(nspname order by nspname), '[]') from nsp),
  'extensions', coalesce((select v from extensions), '[]'),
  'tables', coalesce((select v from tables), '[]'),
  'functions', coalesce((select v from functions), '[]'),
  'sequences', coalesce((select v from sequences), '[]'),
  'enums', coalesce((select v from enums), '[]'),
  'publications', coalesce((select v from publications), '[]'),
  'cron_jobs', (select v from cron)
)::text as snapshot
