-- The target's grants that decide what a new object of the batch exposes, as statements that make a shadow
-- grant the same: who may use each exposed schema ($1), and the default privileges `postgres` (the role
-- migrations run as) gives the Data API's roles and PUBLIC, everywhere and per exposed schema. Each scope is
-- revoked first, so the shadow converges whatever its baseline granted.
with api(role) as (
  values ('public'), ('anon'), ('authenticated')
), exposed as (
  select n.oid, n.nspname, n.nspacl from pg_namespace n where n.nspname = any ($1::text[])
), kinds(t, kw) as (
  values ('r'::"char", 'tables'), ('S'::"char", 'sequences'), ('f'::"char", 'functions')
), scopes as (
  select 0::oid as nsp, '' as clause union all select oid, format(' in schema %I', nspname) from exposed
), acls as (
  -- Everywhere, no entry means the built-in default (functions: EXECUTE to PUBLIC); per schema, nothing.
  select s.nsp, s.clause, k.kw,
    case when s.nsp = 0 then coalesce(d.defaclacl, acldefault(case k.t when 'S' then 's'::"char" else k.t end, 'postgres'::regrole))
         else d.defaclacl end as acl
  from scopes s cross join kinds k
    left join pg_default_acl d on d.defaclrole = 'postgres'::regrole and d.defaclnamespace = s.nsp and d.defaclobjtype = k.t
), granted as (
  select a.nsp, a.clause, a.kw, g.grantee, string_agg(g.privilege_type, ', ' order by g.privilege_type) as privs
  from acls a cross join lateral (
    select case when x.grantee = 0 then 'public' else pg_get_userbyid(x.grantee)::text end as grantee, x.privilege_type
    from aclexplode(a.acl) x) g
  where g.grantee in (select role from api)
  group by 1, 2, 3, 4
), usage as (
  select x.nspname, case when u.grantee = 0 then 'public' else pg_get_userbyid(u.grantee)::text end as grantee
  from exposed x cross join lateral aclexplode(x.nspacl) u where u.privilege_type = 'USAGE'
)
select statement from (
  select 1 as ord, x.nspname as scope, format('revoke usage on schema %I from public, anon, authenticated', x.nspname) as statement
  from exposed x
  union all
  select 2, u.nspname, format('grant usage on schema %I to %s', u.nspname, u.grantee)
  from usage u where u.grantee in (select role from api)
  union all
  select 3, a.clause || a.kw, format('alter default privileges for role postgres%s revoke all on %s from public, anon, authenticated', a.clause, a.kw)
  from acls a
  union all
  select 4, g.clause || g.kw, format('alter default privileges for role postgres%s grant %s on %s to %s', g.clause, g.privs, g.kw, g.grantee)
  from granted g
) s
order by ord, scope, statement
