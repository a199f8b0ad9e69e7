-- The catalog as rows (kind, object, description), for `reconcile`: a pending file's effect is every row whose
-- description differs between shadow A (history up to the head) and shadow B (A plus the file), and it is proven
-- on a target when the target has B's description for each of those rows. One read-only statement.
--
-- Every schema is read but pg_catalog, information_schema, pg_toast, temporary schemas, supabase_migrations and
-- supabase_xtask; Supabase's own schemas are read. Objects that belong to an extension, and what hangs off them
-- (indexes, constraints, triggers, policies of an extension's table), are left out but for their owners and
-- ACLs, and so is an extension's version, so that two platforms with other versions of an extension do not differ. Nothing that differs between
-- two databases built identically is read (no oids, no statistics): names, ACLs sorted, definitions deparsed.
--
-- Deparsed text qualifies a name only when the search_path does not reach it, and renders constants by the
-- session's settings: read every database with the same ones, e.g.
--   set search_path = pg_catalog; set datestyle = iso; set intervalstyle = postgres; set timezone = 'UTC';
--   set extra_float_digits = 1;
-- Kinds: schema, relation, column, constraint, index, policy, trigger, function, type, statistics, extension,
-- event trigger, publication, default acl, owner, acl, comment. `owner`, `acl` and `comment` rows name their
-- object as `<category> <name>` (`table public.t`, `column public.t.c`); the others name it by itself.
with
nsp as (
  select n.oid, n.nspname, n.nspowner, n.nspacl
  from pg_namespace n
  where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'supabase_migrations', 'supabase_xtask')
    and n.nspname not like 'pg\_temp\_%'
    and n.nspname not like 'pg\_toast\_temp\_%'
),
-- Extension members, and the objects that depend on one automatically (an index or policy on its table).
excl as materialized (
  select d.classid, d.objid from pg_depend d where d.deptype = 'e'
  union
  select d.classid, d.objid
  from pg_depend d
  join pg_depend e on e.deptype = 'e' and e.classid = d.refclassid and e.objid = d.refobjid
  where d.deptype in ('a', 'i')
),
rel as (
  select c.oid, c.relkind, c.relowner, c.relacl, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
         c.relreplident, c.relam, c.reloptions, c.reloftype, c.relispartition, c.relpartbound,
         format('%I.%I', n.nspname, c.relname) as name,
         case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                        when 'm' then 'materialized view' when 'S' then 'sequence' else 'foreign table' end as category
  from pg_class c
  join nsp n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    and not exists (select from excl x where x.classid = 'pg_class'::regclass and x.objid = c.oid)
),
att as (
  select a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attidentity, a.attgenerated,
         a.attcollation, a.attstorage, a.attcompression, a.attstattarget, a.attoptions, a.attacl,
         r.name || '.' || quote_ident(a.attname) as name, r.oid as relid
  from pg_attribute a
  join rel r on r.oid = a.attrelid
  where a.attnum > 0 and not a.attisdropped and r.relkind <> 'S'
),
typ as (
  select t.oid, t.typtype, t.typowner, t.typacl, t.typbasetype, t.typtypmod, t.typnotnull, t.typdefaultbin,
         t.typcollation, t.typrelid, format('%I.%I', n.nspname, t.typname) as name
  from pg_type t
  join nsp n on n.oid = t.typnamespace
  where t.typtype in ('b', 'c', 'd', 'e', 'p', 'r')
    and not exists (select from pg_type a where a.typarray = t.oid)
    and (t.typtype <> 'c' or exists (select from pg_class c where c.oid = t.typrelid and c.relkind = 'c'))
    and not exists (select from excl x where x.classid = 'pg_type'::regclass and x.objid = t.oid)
),
fn as (
  select p.oid, p.prokind, p.proowner, p.proacl, p.prosecdef, p.proconfig,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as name
  from pg_proc p
  join nsp n on n.oid = p.pronamespace
  where not exists (select from excl x where x.classid = 'pg_proc'::regclass and x.objid = p.oid)
    -- A range type's constructors come with it.
    and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'i')
),
stx as (
  select s.oid, s.stxowner, format('%I.%I', n.nspname, s.stxname) as name
  from pg_statistic_ext s
  join nsp n on n.oid = s.stxnamespace
  where not exists (select from excl x where x.classid = 'pg_statistic_ext'::regclass and x.objid = s.oid)
),
evt as (
  select e.oid, e.evtname, e.evtevent, e.evtowner, e.evtfoid, e.evtenabled, e.evttags
  from pg_event_trigger e
  join pg_proc f on f.oid = e.evtfoid
  join pg_namespace fs on fs.oid = f.pronamespace
  -- The xtask's own guards (their functions live in its helper schema) are not the project's.
  where fs.nspname not in ('supabase_migrations', 'supabase_xtask')
    and not exists (select from excl x where x.classid = 'pg_event_trigger'::regclass and x.objid = e.oid)
),
-- Owners and ACLs, one row each per object. A NULL ACL is the default one, written out.
owned as (
  select 'schema ' || quote_ident(n.nspname) as object, n.nspowner as owner, coalesce(n.nspacl, acldefault('n', n.nspowner)) as acl
  from nsp n
  where not exists (select from excl x where x.classid = 'pg_namespace'::regclass and x.objid = n.oid)
  union all
  select r.category || ' ' || r.name, r.relowner,
         coalesce(r.relacl, acldefault(case when r.relkind = 'S' then 's' else 'r' end::"char", r.relowner))
  from rel r
  union all
  select case f.prokind when 'p' then 'procedure ' when 'a' then 'aggregate ' else 'function ' end || f.name, f.proowner,
         coalesce(f.proacl, acldefault('f', f.proowner))
  from fn f
  union all
  select 'type ' || t.name, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
  from typ t
  union all
  select 'statistics ' || s.name, s.stxowner, null from stx s
  union all
  select 'event trigger ' || quote_ident(e.evtname), e.evtowner, null from evt e
  union all
  select 'publication ' || quote_ident(p.pubname), p.pubowner, null from pg_publication p
  union all
  -- An extension's members are left out above, but not who owns them and who may use them: a migration's
  -- `grant usage on schema cron` or `revoke execute on function net.http_get` changes only these.
  select 'schema ' || quote_ident(n.nspname), n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
  from nsp n
  where exists (select from excl x where x.classid = 'pg_namespace'::regclass and x.objid = n.oid)
  union all
  select case when c.relkind in ('r', 'p') then 'table ' when c.relkind = 'v' then 'view '
              when c.relkind = 'm' then 'materialized view ' when c.relkind = 'S' then 'sequence '
              else 'foreign table ' end || format('%I.%I', n.nspname, c.relname),
         c.relowner, coalesce(c.relacl, acldefault(case when c.relkind = 'S' then 's' else 'r' end::"char", c.relowner))
  from pg_class c
  join nsp n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    and exists (select from excl x where x.classid = 'pg_class'::regclass and x.objid = c.oid)
  union all
  select case p.prokind when 'p' then 'procedure ' when 'a' then 'aggregate ' else 'function ' end
         || format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
  from pg_proc p
  join nsp n on n.oid = p.pronamespace
  where exists (select from excl x where x.classid = 'pg_proc'::regclass and x.objid = p.oid)
),
cat as (
  select 'owner' as kind, o.object, pg_get_userbyid(o.owner)::text as description
  from owned o
  union all
  select 'acl', o.object, array_to_string(array(select x::text from unnest(o.acl) x order by x::text collate "C"), ',')
  from owned o
  where o.acl is not null
  union all
  -- Column privileges exist only where granted.
  select 'acl', 'column ' || a.name,
         array_to_string(array(select x::text from unnest(a.attacl) x order by x::text collate "C"), ',')
  from att a
  where a.attacl is not null
  union all
  select 'schema', quote_ident(n.nspname), 'schema'
  from nsp n
  where not exists (select from excl x where x.classid = 'pg_namespace'::regclass and x.objid = n.oid)
  union all
  select 'relation', r.name, concat_ws(' ',
           case r.relkind when 'p' then 'partitioned table' else r.category end,
           case r.relpersistence when 'u' then 'unlogged' end,
           (select 'using ' || quote_ident(am.amname) from pg_am am where am.oid = r.relam and am.amname <> 'heap'),
           case when r.relrowsecurity then 'rls enabled' end,
           case when r.relforcerowsecurity then 'rls forced' end,
           case when r.relkind in ('r', 'p', 'm') and r.relreplident <> 'd' then 'replica identity ' ||
             case r.relreplident when 'f' then 'full' when 'n' then 'nothing'
               else 'index ' || coalesce((select quote_ident(ic.relname) from pg_index i join pg_class ic on ic.oid = i.indexrelid
                                          where i.indrelid = r.oid and i.indisreplident), '?') end end,
           'with (' || nullif(array_to_string(array(select o from unnest(r.reloptions) o order by o collate "C"), ', '), '') || ')',
           'of type ' || nullif(r.reloftype, 0)::regtype::text,
           case when r.relispartition then
             'partition of ' || (select string_agg(p.oid::regclass::text, ', ') from pg_inherits h join pg_class p on p.oid = h.inhparent
                                 where h.inhrelid = r.oid) || ' ' || pg_get_expr(r.relpartbound, r.oid)
           else
             'inherits (' || (select string_agg(h.inhparent::regclass::text, ', ' order by h.inhseqno) from pg_inherits h
                              where h.inhrelid = r.oid) || ')'
           end,
           case when r.relkind = 'p' then 'partition by ' || pg_get_partkeydef(r.oid) end,
           case when r.relkind = 'f' then
             (select concat_ws(' ', 'server ' || quote_ident(s.srvname),
                               'options (' || nullif(array_to_string(array(select o from unnest(f.ftoptions) o order by o collate "C"), ', '), '') || ')')
              from pg_foreign_table f join pg_foreign_server s on s.oid = f.ftserver where f.ftrelid = r.oid) end,
           case when r.relkind = 'S' then
             (select format('as %s start %s increment %s minvalue %s maxvalue %s cache %s%s', format_type(s.seqtypid, null),
                            s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, case when s.seqcycle then ' cycle' end)
              from pg_sequence s where s.seqrelid = r.oid) ||
             coalesce((select ' owned by ' || d.refobjid::regclass::text || '.' || quote_ident(a.attname)
                       from pg_depend d
                       join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                       where d.classid = 'pg_class'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
                         and d.deptype in ('a', 'i') and d.refobjsubid > 0
                       limit 1), '') end,
           case when r.relkind in ('v', 'm') then 'as ' || pg_get_viewdef(r.oid) end)
  from rel r
  union all
  select 'column', a.name, concat_ws(' ',
           format_type(a.atttypid, a.atttypmod),
           case when a.attcollation <> 0 and a.attcollation <> (select t.typcollation from pg_type t where t.oid = a.atttypid)
                then 'collate ' || a.attcollation::regcollation::text end,
           case when a.attnotnull then 'not null' end,
           case when a.attgenerated = '' then 'default ' || pg_get_expr(d.adbin, d.adrelid) end,
           case a.attidentity when 'a' then 'generated always as identity' when 'd' then 'generated by default as identity' end,
           case when a.attgenerated = 's' then 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored' end,
           case when a.attstorage <> (select t.typstorage from pg_type t where t.oid = a.atttypid) then 'storage ' ||
             case a.attstorage when 'p' then 'plain' when 'e' then 'external' when 'm' then 'main' else 'extended' end end,
           case when a.attcompression <> '' then 'compression ' || a.attcompression::text end,
           'statistics ' || a.attstattarget,
           'with (' || nullif(array_to_string(array(select o from unnest(a.attoptions) o order by o collate "C"), ', '), '') || ')')
  from att a
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  union all
  select 'constraint', quote_ident(k.conname) || ' on ' || coalesce(r.name, t.name), pg_get_constraintdef(k.oid)
  from pg_constraint k
  left join rel r on r.oid = k.conrelid
  left join typ t on t.oid = k.contypid
  where (r.oid is not null or t.oid is not null)
    and not exists (select from excl x where x.classid = 'pg_constraint'::regclass and x.objid = k.oid)
  union all
  select 'index', format('%I.%I', n.nspname, ic.relname), concat_ws(' ',
           pg_get_indexdef(i.indexrelid),
           case when not i.indisvalid then 'invalid' end,
           case when i.indisclustered then 'clustered' end,
           'partition of ' || (select h.inhparent::regclass::text from pg_inherits h where h.inhrelid = i.indexrelid))
  from pg_index i
  join rel r on r.oid = i.indrelid
  join pg_class ic on ic.oid = i.indexrelid
  join pg_namespace n on n.oid = ic.relnamespace
  where not exists (select from excl x where x.classid = 'pg_class'::regclass and x.objid = i.indexrelid)
  union all
  select 'policy', quote_ident(p.polname) || ' on ' || r.name, concat_ws(' ',
           case when p.polpermissive then 'permissive' else 'restrictive' end,
           'for ' || case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                   when 'd' then 'delete' else 'all' end,
           'to ' || array_to_string(array(select g from (select case when x = 0 then 'public' else x::regrole::text end as g
                                                         from unnest(p.polroles) x) s order by g collate "C"), ', '),
           'using (' || pg_get_expr(p.polqual, p.polrelid) || ')',
           'with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
  from pg_policy p
  join rel r on r.oid = p.polrelid
  where not exists (select from excl x where x.classid = 'pg_policy'::regclass and x.objid = p.oid)
  union all
  select 'trigger', quote_ident(t.tgname) || ' on ' || r.name,
         pg_get_triggerdef(t.oid) || ' ' ||
           case t.tgenabled when 'O' then 'enabled' when 'D' then 'disabled' when 'R' then 'enabled replica'
                            when 'A' then 'enabled always' else t.tgenabled::text end
  from pg_trigger t
  join rel r on r.oid = t.tgrelid
  where not t.tgisinternal
    and not exists (select from excl x where x.classid = 'pg_trigger'::regclass and x.objid = t.oid)
  union all
  select 'function', f.name, concat_ws(' ',
           case f.prokind when 'f' then 'function' when 'p' then 'procedure' when 'a' then 'aggregate'
                          when 'w' then 'window function' end,
           case when f.prokind <> 'a' then 'md5 ' || md5(pg_get_functiondef(f.oid)) end,
           (select format('sfunc %s stype %s', g.aggtransfn::regprocedure, format_type(g.aggtranstype, null)) ||
                   coalesce(' finalfunc ' || nullif(g.aggfinalfn, 0)::regprocedure::text, '') ||
                   coalesce(' combinefunc ' || nullif(g.aggcombinefn, 0)::regprocedure::text, '') ||
                   coalesce(' initcond ' || quote_literal(g.agginitval), '') ||
                   coalesce(' sortop ' || nullif(g.aggsortop, 0)::regoperator::text, '')
            from pg_aggregate g where g.aggfnoid = f.oid),
           case when f.prosecdef then 'security definer' end,
           'set ' || nullif(array_to_string(array(select c from unnest(f.proconfig) c order by c collate "C"), ', '), ''))
  from fn f
  union all
  select 'type', t.name, case t.typtype
           when 'e' then 'enum (' || (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                                      from pg_enum e where e.enumtypid = t.oid) || ')'
           when 'd' then concat_ws(' ', 'domain over ' || format_type(t.typbasetype, t.typtypmod),
                                   case when t.typcollation <> 0 and t.typcollation <> (select b.typcollation from pg_type b where b.oid = t.typbasetype)
                                        then 'collate ' || t.typcollation::regcollation::text end,
                                   case when t.typnotnull then 'not null' end,
                                   'default ' || pg_get_expr(t.typdefaultbin, 0))
           when 'c' then 'composite (' || coalesce((select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ||
                                                                   case when a.attcollation <> 0 and a.attcollation <> (select b.typcollation from pg_type b where b.oid = a.atttypid)
                                                                        then ' collate ' || a.attcollation::regcollation::text else '' end,
                                                                   ', ' order by a.attnum)
                                                    from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped), '') || ')'
           when 'r' then (select concat_ws(' ', 'range of ' || format_type(g.rngsubtype, null),
                                           'collate ' || nullif(g.rngcollation, 0)::regcollation::text,
                                           'opclass ' || (select quote_ident(o.opcname) from pg_opclass o where o.oid = g.rngsubopc),
                                           'canonical ' || nullif(g.rngcanonical, 0)::regprocedure::text,
                                           'subtype_diff ' || nullif(g.rngsubdiff, 0)::regprocedure::text)
                          from pg_range g where g.rngtypid = t.oid)
           when 'p' then 'shell type'
           else 'base type' end
  from typ t
  union all
  select 'statistics', s.name, concat_ws(' ', pg_get_statisticsobjdef(s.oid),
           'statistics ' || (select x.stxstattarget from pg_statistic_ext x where x.oid = s.oid))
  from stx s
  union all
  select 'extension', quote_ident(e.extname), 'schema ' || quote_ident(n.nspname)
  from pg_extension e
  join pg_namespace n on n.oid = e.extnamespace
  union all
  select 'event trigger', quote_ident(e.evtname), concat_ws(' ',
           'on ' || e.evtevent::text,
           'when tag in (' || nullif(array_to_string(array(select g from unnest(e.evttags) g order by g collate "C"), ', '), '') || ')',
           'execute ' || e.evtfoid::regprocedure::text,
           case e.evtenabled when 'O' then 'enabled' when 'D' then 'disabled' when 'R' then 'enabled replica'
                             when 'A' then 'enabled always' end)
  from evt e
  union all
  select 'publication', quote_ident(p.pubname), concat_ws(' ',
           case when p.puballtables then 'for all tables' end,
           'publish ' || concat_ws(', ', case when p.pubinsert then 'insert' end, case when p.pubupdate then 'update' end,
                                   case when p.pubdelete then 'delete' end, case when p.pubtruncate then 'truncate' end),
           case when p.pubviaroot then 'via root' end)
  from pg_publication p
  union all
  select 'publication', quote_ident(pt.pubname) || ': ' || format('%I.%I', pt.schemaname, pt.tablename), concat_ws(' ',
           'columns (' || nullif(array_to_string(array(select quote_ident(c) from unnest(pt.attnames) c order by c collate "C"), ', '), '') || ')',
           'where ' || pt.rowfilter)
  from pg_publication_tables pt
  join nsp n on n.nspname = pt.schemaname
  union all
  select 'publication', quote_ident(p.pubname) || ': schema ' || quote_ident(n.nspname), 'tables in schema'
  from pg_publication_namespace pn
  join pg_publication p on p.oid = pn.pnpubid
  join nsp n on n.oid = pn.pnnspid
  union all
  select 'default acl', format('%s in %s on %s', d.defaclrole::regrole,
           coalesce(quote_ident(n.nspname), '*'),
           case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                when 'T' then 'types' when 'n' then 'schemas' else d.defaclobjtype::text end),
         array_to_string(array(select x::text from unnest(d.defaclacl) x order by x::text collate "C"), ',')
  from pg_default_acl d
  left join pg_namespace n on n.oid = d.defaclnamespace
  where d.defaclnamespace = 0 or d.defaclnamespace in (select oid from nsp)
  union all
  -- Comments on anything in this database (shared objects' are in pg_shdescription): built-in objects have oids
  -- below 16384, and of those only a schema (public) is in scope. An extension's comment comes from its control
  -- file, so with its version: left out.
  select 'comment', i.type || ' ' || i.identity, d.description
  from pg_description d
  cross join lateral pg_identify_object(d.classoid, d.objoid, d.objsubid) i
  where (d.objoid >= 16384 or d.classoid = 'pg_namespace'::regclass)
    and d.classoid <> 'pg_extension'::regclass
    and not exists (select from excl x where x.classid = d.classoid and x.objid = d.objoid)
    and (i.schema is null or i.schema in (select nspname from nsp))
    and (i.type <> 'schema' or i.identity in (select quote_ident(nspname) from nsp))
)
select kind::text as kind, object::text as object, description::text as description
from cat
order by kind collate "C", object collate "C", description collate "C"
