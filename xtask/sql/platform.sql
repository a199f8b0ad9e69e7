-- The platform-managed part of a Supabase database as DDL, in one statement (run directly, or through
-- `supabase db query`, giving the same text): roles with their attributes and memberships, the platform schemas
-- with their types, sequences, tables, constraints, indexes, functions, views, triggers and RLS policies, the
-- installed extensions with their versions, then the owners and grants of those schemas and objects, the default
-- privileges of `postgres` and `supabase_admin`, and supautils' settings. Objects that belong to an extension are
-- left to `create extension`. Each statement is preceded by a `--> kind name` line, which is how the xtask
-- applies them one by one (roles first, owners and grants last: `platform_file::statements`).
--
-- Each extension's members are also captured, for one purpose only: a `--> stand-in <name> <version>` chunk is
-- the script of a stand-in extension, installed where the local server lacks the real one (`standins.rs`);
-- it is never applied as a statement. It reproduces the schema objects (schemas, types, sequences, tables,
-- functions, views); a function in C (or any language but sql and plpgsql) becomes a stub with its signature
-- that does nothing: it returns null, no rows, or the row a trigger was given.
with schemas as (
  select n.oid, n.nspname from pg_namespace n where n.nspname = any (:schemas)
), ext_objects as (
  select objid from pg_depend where deptype = 'e'
), rels as (
  select c.*, s.nspname from pg_class c join schemas s on s.oid = c.relnamespace
  where c.oid not in (select objid from ext_objects)
), members as (
  -- what each extension's script made, for its stand-in
  select e.oid as ext, d.classid, d.objid, d.objsubid
  from pg_extension e join pg_depend d on d.refclassid = 'pg_extension'::regclass and d.refobjid = e.oid and d.deptype = 'e'
  where e.extname <> 'plpgsql'
), member_types as (
  -- Types made on their own: not an array type, nor the row type of a table or view (made with their element
  -- or relation, though recorded as members too).
  select m.ext, t.oid, t.typtype, t.typnamespace from members m join pg_type t on t.oid = m.objid
  where m.classid = 'pg_type'::regclass and not exists (select 1 from pg_type el where el.typarray = t.oid)
    and not exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind <> 'c')
  union
  select m.ext, t.oid, t.typtype, t.typnamespace
  from members m join pg_class c on c.oid = m.objid and c.relkind = 'c' join pg_type t on t.oid = c.reltype
  where m.classid = 'pg_class'::regclass
), member_rels as (
  select m.ext, c.oid, c.relname, c.relkind, c.relnamespace, c.relpersistence, c.relispartition, c.relpartbound, n.nspname
  from members m join pg_class c on c.oid = m.objid join pg_namespace n on n.oid = c.relnamespace
  where m.classid = 'pg_class'::regclass and c.relkind in ('r', 'p', 'v', 'm', 'S')
), member_procs as (
  select m.ext, p.oid, p.proname, p.pronamespace, p.prokind, p.prorettype, p.proretset, p.provolatile, p.proisstrict,
    p.proparallel, p.proargmodes, n.nspname, l.lanname,
    -- A plpgsql stub cannot take or return what only C handles (internal, cstring, handlers), nor a type of
    -- the extension's that a stand-in cannot make (a base or range type, whose input and output are C).
    not exists (
      select 1 from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]) || p.prorettype) a(t) join pg_type ty on ty.oid = a.t
      where (ty.typtype = 'p' and ty.typname not in ('record', 'void', 'trigger', 'event_trigger', 'anyelement', 'anyarray',
          'anynonarray', 'anyenum', 'anyrange', 'anymultirange', 'anycompatible', 'anycompatiblearray',
          'anycompatiblenonarray', 'anycompatiblerange', 'anycompatiblemultirange'))
        or exists (select 1 from member_types mt where mt.typtype not in ('e', 'c', 'd') and mt.oid in (ty.oid, ty.typelem))
    ) as declarable
  from members m join pg_proc p on p.oid = m.objid join pg_namespace n on n.oid = p.pronamespace
    join pg_language l on l.oid = p.prolang
  where m.classid = 'pg_proc'::regclass
), stand_in_parts as (
  -- Schemas other than the extension's own (which `create extension ... with schema` needs first); one that
  -- already exists here is left as it is.
  select s.ext, 1 as ord, n.nspname::text as sub,
    format('do $s$ begin if not exists (select from pg_namespace where nspname = %L) then create schema %I; end if; end $s$;',
      n.nspname, n.nspname) as ddl
  from (select ext, objid as nsp from members where classid = 'pg_namespace'::regclass
        union select ext, typnamespace from member_types
        union select ext, relnamespace from member_rels
        union select ext, pronamespace from member_procs) s
    join pg_namespace n on n.oid = s.nsp join pg_extension e on e.oid = s.ext
  where n.oid <> e.extnamespace
  union all
  -- Types in the order they were made (a domain over an enum, a composite of both).
  select mt.ext, 2, lpad(t.oid::text, 10, '0'),
    case t.typtype
      when 'e' then format('create type %I.%I as enum (%s);', n.nspname, t.typname,
        (select string_agg(quote_literal(l.enumlabel), ', ' order by l.enumsortorder) from pg_enum l where l.enumtypid = t.oid))
      when 'd' then format('create domain %I.%I as %s%s%s%s;', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
        coalesce(' default ' || t.typdefault, ''), case when t.typnotnull then ' not null' else '' end,
        coalesce((select string_agg(format(' constraint %I %s', c.conname, pg_get_constraintdef(c.oid)), '' order by c.conname)
          from pg_constraint c where c.contypid = t.oid and c.contype = 'c'), ''))
      when 'c' then format('create type %I.%I as (%s);', n.nspname, t.typname,
        (select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' order by a.attnum)
          from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped))
      else format('-- not reproduced: type %s (its input and output functions are C)', format_type(t.oid, null))
    end
  from member_types mt join pg_type t on t.oid = mt.oid join pg_namespace n on n.oid = t.typnamespace
  union all
  -- Sequences, but an identity column's (its column makes it).
  select r.ext, 3, format('%I.%I', r.nspname, r.relname),
    format('create sequence %I.%I as %s increment by %s minvalue %s maxvalue %s start with %s cache %s%s;', r.nspname, r.relname,
      format_type(s.seqtypid, null), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
      case when s.seqcycle then ' cycle' else '' end)
  from member_rels r join pg_sequence s on s.seqrelid = r.oid
  where not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = r.oid and d.deptype = 'i')
  union all
  -- Tables without their defaults, which may call the functions made next.
  select r.ext, 4, lpad(r.oid::text, 10, '0'),
    format('create %stable %I.%I %s%s;', case when r.relpersistence = 'u' then 'unlogged ' else '' end, r.nspname, r.relname,
      case when r.relispartition then
        format('partition of %s %s', (select i.inhparent::regclass::text from pg_inherits i where i.inhrelid = r.oid),
          pg_get_expr(r.relpartbound, r.oid))
      else
        format('(%s)', coalesce((select string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
            case when a.attidentity = 'a' then ' generated always as identity'
                 when a.attidentity = 'd' then ' generated by default as identity'
                 when a.attgenerated = 's' then format(' generated always as (%s) stored', pg_get_expr(d.adbin, d.adrelid))
                 else '' end,
            case when a.attnotnull then ' not null' else '' end), ', ' order by a.attnum)
          from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped), ''))
      end,
      case when r.relkind = 'p' then ' partition by ' || pg_get_partkeydef(r.oid) else '' end)
  from member_rels r where r.relkind in ('r', 'p')
  union all
  select p.ext, 5, format('%I.%I(%s)', p.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
    case
      when p.prokind = 'a' then format('-- not reproduced: aggregate %s', p.oid::regprocedure)
      when p.prokind = 'w' then format('-- not reproduced: window function %s', p.oid::regprocedure)
      when not p.declarable then format('-- not reproduced: %s (its signature has a type only C can make or take)', p.oid::regprocedure)
      when p.lanname in ('sql', 'plpgsql') then rtrim(pg_get_functiondef(p.oid), chr(10)) || ';'
      else format('-- language %s on the target: here a stub that does nothing%screate %s %I.%I(%s)%s language plpgsql%s as $stub$ begin%s end $stub$;',
        p.lanname, chr(10), case when p.prokind = 'p' then 'procedure' else 'function' end, p.nspname, p.proname,
        pg_get_function_arguments(p.oid),
        case when p.prokind = 'p' then '' else ' returns ' || pg_get_function_result(p.oid) end,
        case when p.prokind = 'p' then '' else concat(
          case p.provolatile when 'i' then ' immutable' when 's' then ' stable' else ' volatile' end,
          case when p.proisstrict then ' strict' end,
          case p.proparallel when 's' then ' parallel safe' when 'r' then ' parallel restricted' end) end,
        case
          when p.prorettype = 'trigger'::regtype then ' if tg_op = ''DELETE'' then return old; end if; return new;'
          when p.proretset then ' return;'
          when p.prokind = 'p' or p.prorettype in ('void'::regtype, 'event_trigger'::regtype)
            or p.proargmodes && array['o', 'b']::"char"[] then ''
          else ' return null;'
        end)
    end
  from member_procs p
  union all
  select r.ext, 6, format('%I.%I.%I', r.nspname, r.relname, a.attname),
    format('alter table %I.%I alter column %I set default %s;', r.nspname, r.relname, a.attname, pg_get_expr(d.adbin, d.adrelid))
  from member_rels r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where r.relkind in ('r', 'p') and a.attgenerated = '' and a.attidentity = ''
  union all
  select r.ext, 7, format('%I.%I', r.nspname, r.relname),
    format('alter sequence %I.%I owned by %I.%I.%I;', r.nspname, r.relname, tn.nspname, t.relname, a.attname)
  from member_rels r
    join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
      and d.deptype = 'a' and d.refobjsubid > 0
    join pg_class t on t.oid = d.refobjid join pg_namespace tn on tn.oid = t.relnamespace
    join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
  where r.relkind = 'S'
  union all
  select r.ext, case con.contype when 'f' then 9 else 8 end, format('%I.%I.%I', r.nspname, r.relname, con.conname),
    format('alter table %I.%I add constraint %I %s;', r.nspname, r.relname, con.conname, pg_get_constraintdef(con.oid))
  from member_rels r join pg_constraint con on con.conrelid = r.oid
  where con.contype in ('p', 'u', 'c', 'f', 'x') and con.conislocal and not r.relispartition
  union all
  select r.ext, 10, format('%I.%I', r.nspname, ic.relname), pg_get_indexdef(ic.oid) || ';'
  from member_rels r join pg_index i on i.indrelid = r.oid join pg_class ic on ic.oid = i.indexrelid
  where not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid and c.conrelid = i.indrelid and c.contype in ('p', 'u', 'x'))
    and not exists (select 1 from pg_inherits h where h.inhrelid = ic.oid)
  union all
  -- Views after the functions they may call, in the order they were made.
  select r.ext, 11, lpad(r.oid::text, 10, '0'),
    case r.relkind
      when 'v' then format('create view %I.%I as %s;', r.nspname, r.relname, rtrim(pg_get_viewdef(r.oid), ';'))
      else format('create materialized view %I.%I as %s with no data;', r.nspname, r.relname, rtrim(pg_get_viewdef(r.oid), ';'))
    end
  from member_rels r where r.relkind in ('v', 'm')
  union all
  select r.ext, 12, format('%I.%I.%I', r.nspname, r.relname, t.tgname), pg_get_triggerdef(t.oid) || ';'
  from member_rels r join pg_trigger t on t.tgrelid = r.oid where not t.tgisinternal and t.tgparentid = 0
  union all
  select m.ext, 13, pg_describe_object(m.classid, m.objid, m.objsubid),
    format('-- not reproduced: %s', pg_describe_object(m.classid, m.objid, m.objsubid))
  from members m
  where m.classid not in ('pg_namespace'::regclass, 'pg_type'::regclass, 'pg_class'::regclass, 'pg_proc'::regclass)
    or (m.classid = 'pg_class'::regclass and not exists (select 1 from member_rels r where r.oid = m.objid)
      and not exists (select 1 from pg_class c where c.oid = m.objid and c.relkind = 'c'))
), parts as (
  -- Roles: every one but Postgres' predefined roles and the short-lived login roles of the Management API
  -- (`cli_login_*`, one per CLI session) and of the xtask (`xtask_*`), which would make every capture differ.
  -- Created when missing, then given the target's attributes (never a password); `PlatformSchema::apply`
  -- keeps the local bootstrap superuser one and never makes `postgres` one.
  select 1 as ord, r.rolname::text as name,
    format('do $r$ begin if not exists (select 1 from pg_roles where rolname = %L) then create role %I; end if; end $r$;%salter role %I with %s;',
      r.rolname, r.rolname, chr(10), r.rolname,
      concat_ws(' ', case when r.rolsuper then 'superuser' else 'nosuperuser' end,
        case when r.rolcreatedb then 'createdb' else 'nocreatedb' end,
        case when r.rolcreaterole then 'createrole' else 'nocreaterole' end,
        case when r.rolreplication then 'replication' else 'noreplication' end,
        case when r.rolbypassrls then 'bypassrls' else 'nobypassrls' end,
        case when r.rolinherit then 'inherit' else 'noinherit' end,
        case when r.rolcanlogin then 'login' else 'nologin' end)) as ddl,
    'role' as kind
  from pg_roles r
  where r.rolname !~ '^(pg_|cli_login_|xtask_)'
  union all
  -- Memberships of those roles, predefined roles' included (`postgres` in `pg_read_all_data`, say); one line
  -- per pair, whoever granted it (since PostgreSQL 16 a pair may have several grantors).
  select 2, format('%I to %I', pg_get_userbyid(m.roleid), pg_get_userbyid(m.member)),
    format('grant %I to %I%s;', pg_get_userbyid(m.roleid), pg_get_userbyid(m.member),
      case when bool_or(m.admin_option) then ' with admin option' else '' end), 'membership'
  from pg_auth_members m
  where pg_get_userbyid(m.member) !~ '^(pg_|cli_login_|xtask_)' and pg_get_userbyid(m.roleid) !~ '^(cli_login_|xtask_)'
  group by m.roleid, m.member
  union all
  select 2, s.nspname::text, format('create schema if not exists %I;', s.nspname), 'schema' from schemas s
  union all
  -- `with schema` needs the schema to exist: one the platform made for the extension (graphql, say) is made first.
  select 3, e.extname::text,
    format('-- version %s on the target%s%screate extension if not exists %I with schema %I;', e.extversion, chr(10),
      case when n.nspname = any (:schemas) or n.nspname in ('public', 'pg_catalog') then ''
           else format('create schema if not exists %I;', n.nspname) || chr(10) end,
      e.extname, n.nspname),
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
  -- A stand-in's script per extension, read with this session's search_path, which it sets so that the names
  -- it leaves unqualified resolve as they did here. `-- schema:` names the schema the platform put it in.
  select 100, format('%s %s', e.extname, e.extversion),
    concat_ws(chr(10), format('-- schema: %s', n.nspname), 'set local check_function_bodies = off;',
      format('set local search_path = %s;', coalesce(nullif(array_to_string(
        array(select quote_ident(x) from unnest(current_schemas(false)) x), ', '), ''), '''''')),
      (select string_agg(sp.ddl, chr(10) order by sp.ord, sp.sub) from stand_in_parts sp where sp.ext = e.oid)),
    'stand-in'
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql'
  union all
  -- Owners, after every object: of the schemas, and of what the capture makes in them.
  select 101, format('schema %I', s.nspname), format('alter schema %I owner to %I;', s.nspname, pg_get_userbyid(n.nspowner)), 'owner'
  from schemas s join pg_namespace n on n.oid = s.oid
  union all
  select 101, format('%s %I.%I', k.kw, r.nspname, r.relname),
    format('alter %s %I.%I owner to %I;', k.kw, r.nspname, r.relname, pg_get_userbyid(r.relowner)), 'owner'
  from rels r cross join lateral (select case r.relkind when 'v' then 'view' when 'S' then 'sequence' else 'table' end) k(kw)
  where r.relkind in ('r', 'p', 'v', 'S')
  union all
  select 101, format('%s %I.%I(%s)', k.kw, s.nspname, p.proname, oidvectortypes(p.proargtypes)),
    format('alter %s %I.%I(%s) owner to %I;', k.kw, s.nspname, p.proname, oidvectortypes(p.proargtypes), pg_get_userbyid(p.proowner)), 'owner'
  from pg_proc p join schemas s on s.oid = p.pronamespace
    cross join lateral (select case p.prokind when 'p' then 'procedure' else 'function' end) k(kw)
  where p.prokind in ('f', 'p') and p.oid not in (select objid from ext_objects)
  union all
  select 101, format('type %I.%I', s.nspname, t.typname), format('alter type %I.%I owner to %I;', s.nspname, t.typname, pg_get_userbyid(t.typowner)), 'owner'
  from pg_type t join schemas s on s.oid = t.typnamespace where t.typtype = 'e' and t.oid not in (select objid from ext_objects)
  union all
  -- Grants: an object's ACL as the target has it. What this server's ACL holds is revoked first (cascading to
  -- what those grantees granted on), so applying it again converges; an object on its default ACL has none.
  select 102, format('%s %s', o.kw, o.obj),
    concat_ws(chr(10),
      format('do $g$ declare g text; begin for g in select distinct case when a.grantee = 0 then ''public'' else quote_ident(pg_get_userbyid(a.grantee)) end from %s loop execute format(%L, g); end loop; end $g$;',
        o.lookup, format('revoke all on %s %s from %%s cascade', o.kw, o.obj)),
      (select string_agg(format('grant %s on %s %s to %s%s;', g.privs, o.kw, o.obj, g.grantee,
          case when g.grantable then ' with grant option' else '' end), chr(10) order by g.grantee, g.grantable)
        from (select case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end as grantee,
            a.is_grantable as grantable, string_agg(lower(a.privilege_type), ', ' order by a.privilege_type) as privs
          from aclexplode(o.acl) a group by 1, 2) g)),
    'grant'
  from (
    -- public too, the schema the Data API exposes by default: who may use it decides what the API reaches.
    select 'schema' as kw, quote_ident(n.nspname) as obj, n.nspacl as acl,
      format('pg_namespace o, aclexplode(o.nspacl) a where o.oid = %L::regnamespace', quote_ident(n.nspname)) as lookup
    from pg_namespace n where n.oid in (select oid from schemas) or n.nspname = 'public'
    union all
    select case r.relkind when 'S' then 'sequence' else 'table' end, format('%I.%I', r.nspname, r.relname), r.relacl,
      format('pg_class o, aclexplode(o.relacl) a where o.oid = %L::regclass', format('%I.%I', r.nspname, r.relname))
    from rels r where r.relkind in ('r', 'p', 'v', 'S')
    union all
    select case p.prokind when 'p' then 'procedure' else 'function' end,
      format('%I.%I(%s)', s.nspname, p.proname, oidvectortypes(p.proargtypes)), p.proacl,
      format('pg_proc o, aclexplode(o.proacl) a where o.oid = %L::regprocedure', format('%I.%I(%s)', s.nspname, p.proname, oidvectortypes(p.proargtypes)))
    from pg_proc p join schemas s on s.oid = p.pronamespace
    where p.prokind in ('f', 'p') and p.oid not in (select objid from ext_objects)
  ) o
  where o.acl is not null
  union all
  -- The default privileges of the roles migrations run as, which every object a migration makes gets. An
  -- entry for all schemas replaces the built-in default, so the revoke reads that default where this server
  -- has no entry (functions' EXECUTE for PUBLIC).
  select 103, format('%s in %s on %s', pg_get_userbyid(d.defaclrole), coalesce(quote_ident(n.nspname), 'all schemas'), k.kw),
    concat_ws(chr(10),
      format('do $d$ declare g text; begin for g in select distinct case when a.grantee = 0 then ''public'' else quote_ident(pg_get_userbyid(a.grantee)) end from aclexplode(coalesce((select defaclacl from pg_default_acl where defaclrole = %L::regrole and defaclnamespace = %s and defaclobjtype = %L), %s)) a loop execute format(%L, g); end loop; end $d$;',
        quote_ident(pg_get_userbyid(d.defaclrole)),
        case when n.oid is null then '0' else format('%L::regnamespace', quote_ident(n.nspname)) end, d.defaclobjtype,
        case when n.oid is null then format('acldefault(%L, %L::regrole)', k.acltype, quote_ident(pg_get_userbyid(d.defaclrole))) else 'null' end,
        format('%s revoke all on %s from %%s', k.prefix, k.kw)),
      (select string_agg(format('%s grant %s on %s to %s%s;', k.prefix, g.privs, k.kw, g.grantee,
          case when g.grantable then ' with grant option' else '' end), chr(10) order by g.grantee, g.grantable)
        from (select case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end as grantee,
            a.is_grantable as grantable, string_agg(lower(a.privilege_type), ', ' order by a.privilege_type) as privs
          from aclexplode(d.defaclacl) a group by 1, 2) g)),
    'default-privileges'
  from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
    cross join lateral (select
      case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions' when 'T' then 'types' else 'schemas' end as kw,
      -- acldefault's letter for a sequence is lower case ('S' is a foreign server there)
      case d.defaclobjtype when 'S' then 's' else d.defaclobjtype::text end as acltype,
      format('alter default privileges for role %I%s', pg_get_userbyid(d.defaclrole),
        case when n.oid is null then '' else format(' in schema %I', n.nspname) end) as prefix) k
  where pg_get_userbyid(d.defaclrole) !~ '^(pg_|cli_login_|xtask_)'
  union all
  -- supautils' settings as the target has them (none on a plain PostgreSQL): recorded for the rehearsal
  -- (`platform_file::supautils`), never applied.
  select 104, k.name, current_setting('supautils.' || k.name, true), 'supautils'
  from unnest(array['policy_grants', 'drop_trigger_grants', 'privileged_extensions', 'reserved_roles', 'reserved_memberships']) k(name)
  where current_setting('supautils.' || k.name, true) is not null
)
select coalesce(string_agg(format('--> %s %s%s%s', kind, name, chr(10), ddl), chr(10) || chr(10) order by ord, name, kind, ddl), '') as ddl
from parts
