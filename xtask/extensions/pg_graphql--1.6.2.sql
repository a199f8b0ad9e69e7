-- Stand-in for pg_graphql 1.6.2 (supabase/pg_graphql), written in SQL and PL/pgSQL, in schema graphql.
-- (Its SQL objects are those of 1.6.1's source and of the platform's own listing; 1.6.2's source was not at hand.)
--
-- Reproduced: the functions and objects pg_graphql creates (resolve, _internal_resolve, comment_directive,
-- exception, the schema-version sequence, its functions and event triggers) with their signatures, and what the
-- platform adds when pg_graphql is created (its grant_pg_graphql_access event trigger): graphql_public.graphql
-- passing its arguments to graphql.resolve, and the grants to postgres, anon, authenticated and service_role.
-- `comment on ... is e'@graphql(...)'` needs nothing from the extension; graphql.comment_directive reads such
-- comments as pg_graphql does.
-- Not reproduced: no GraphQL query is resolved. graphql.resolve (and so graphql_public.graphql) answers every
-- query with a GraphQL error response ({"data": null, "errors": [...]}) saying so.
\echo Use "CREATE EXTENSION pg_graphql" to load this file. \quit

-- Bumped on every DDL statement; pg_graphql rebuilds its schema cache when it changes.
create sequence graphql.seq_schema_version as integer cycle;

create function graphql.increment_schema_version() returns event_trigger
language plpgsql security definer as $fn$
begin
  perform pg_catalog.nextval('graphql.seq_schema_version');
end
$fn$;

create function graphql.get_schema_version() returns integer
language sql security definer as $fn$
  select last_value from graphql.seq_schema_version
$fn$;

create event trigger graphql_watch_ddl on ddl_command_end
  execute function graphql.increment_schema_version();
create event trigger graphql_watch_drop on sql_drop
  execute function graphql.increment_schema_version();

-- The JSON inside a comment's @graphql(...) directive, {} when there is none.
create function graphql.comment_directive(comment_ text) returns jsonb
language sql immutable as $fn$
  select coalesce(substring(comment_ from '@graphql\((.+)\)')::jsonb, '{}'::jsonb)
$fn$;

create function graphql.exception(message text) returns text
language plpgsql as $fn$
begin
  raise exception using errcode = '22000', message = message;
end
$fn$;

-- pg_graphql's resolver (Rust); here every request gets a GraphQL error response.
create function graphql._internal_resolve(
  query text,
  variables jsonb default '{}',
  "operationName" text default null,
  extensions jsonb default null
) returns jsonb
language sql as $fn$
  select jsonb_build_object('data', null, 'errors', jsonb_build_array(jsonb_build_object(
    'message', 'pg_graphql stand-in: GraphQL queries are not resolved in a local rehearsal database')))
$fn$;

create function graphql.resolve(
  query text,
  variables jsonb default '{}',
  "operationName" text default null,
  extensions jsonb default null
) returns jsonb
language plpgsql as $fn$
declare
  reply jsonb;
  failure text;
begin
  -- As pg_graphql: an error inside the resolver comes back as a GraphQL error, not as an SQL error.
  begin
    reply := graphql._internal_resolve(query := query, variables := variables,
                                       "operationName" := "operationName", extensions := extensions);
  exception when others then
    get stacked diagnostics failure = message_text;
    reply := jsonb_build_object('data', null, 'errors', jsonb_build_array(jsonb_build_object('message', failure)));
  end;
  return reply;
end
$fn$;

-- The platform keeps schema graphql_public (with a placeholder function while pg_graphql is absent); when
-- pg_graphql is created its event trigger puts this entry point there, which thereby belongs to the extension.
do $public$
begin
  if pg_catalog.to_regnamespace('graphql_public') is null then
    create schema graphql_public;
  end if;
  drop function if exists graphql_public.graphql(text, text, jsonb, jsonb);
end
$public$;

create function graphql_public.graphql(
  "operationName" text default null,
  query text default null,
  variables jsonb default null,
  extensions jsonb default null
) returns jsonb
language sql as $fn$
  select graphql.resolve(query := query, variables := coalesce(variables, '{}'),
                         "operationName" := "operationName", extensions := extensions)
$fn$;

-- The platform's grants (grant_pg_graphql_access), for the roles this database has.
do $grants$
declare
  r text;
begin
  for r in select rolname from pg_catalog.pg_roles
           where rolname in ('postgres', 'anon', 'authenticated', 'service_role') and rolname <> current_user
  loop
    execute format('grant usage on schema graphql to %I', r);
    execute format('grant select on all tables in schema graphql to %I', r);
    execute format('grant execute on all functions in schema graphql to %I', r);
    execute format('grant all on all sequences in schema graphql to %I', r);
    execute format('alter default privileges in schema graphql grant all on tables to %I', r);
    execute format('alter default privileges in schema graphql grant all on functions to %I', r);
    execute format('alter default privileges in schema graphql grant all on sequences to %I', r);
  end loop;
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'postgres') and current_user <> 'postgres' then
    grant usage on schema graphql_public to postgres with grant option;
    grant usage on schema graphql to postgres with grant option;
  end if;
end
$grants$;
