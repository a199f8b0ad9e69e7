-- Stand-in for Supabase Wrappers 0.6.3 (supabase/wrappers), written in SQL and PL/pgSQL. Supabase creates it in
-- schema extensions (`create extension wrappers with schema extensions`); every object goes to the schema CREATE
-- EXTENSION names, unqualified, so the extension stays relocatable as the real one is.
--
-- Reproduced: the wrappers_fdw_stats table; for every FDW the platform's build ships (all_fdws and helloworld_fdw)
-- its <name>_handler, <name>_validator and <name>_meta functions, the validators checking the options each FDW
-- requires with the same messages and SQLSTATEs (a missing option is fdw_option_name_not_found where the FDW
-- passes the framework's error through, fdw_error where it wraps it); the s3vec type with s3vec_in/s3vec_out,
-- s3vec_knn, s3vec_distance, metadata_filter and the <==> operators of the S3 Vectors FDW. So `create foreign data
-- wrapper ... handler ... validator ...`, `create server ... options (...)`, user mappings and `create foreign
-- table` behave as on the platform.
-- Not reproduced: no FDW reaches its service. A handler must return fdw_handler, which only C can, so every
-- handler is file_fdw's (contrib): reading a foreign table fails with file_fdw's "either filename or program is
-- required", and IMPORT FOREIGN SCHEMA fails ("does not support IMPORT FOREIGN SCHEMA"). The validators refuse
-- file_fdw's own filename/program options so that handler can never read a file or run a program. The FDW list
-- and their versions are 0.6.2's (the 0.6.3 source was not at hand); s3vec is stored and printed as jsonb.
\echo Use "CREATE EXTENSION wrappers" to load this file. \quit

-- Usage statistics the FDWs keep (empty here: nothing is ever fetched).
create table wrappers_fdw_stats (
  fdw_name text not null primary key,
  create_times bigint,
  rows_in bigint,
  rows_out bigint,
  bytes_in bigint,
  bytes_out bigint,
  metadata jsonb,
  created_at timestamptz not null default timezone('utc'::text, now()),
  updated_at timestamptz not null default timezone('utc'::text, now())
);

-- AirtableFdw
create function airtable_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function airtable_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'AirtableFdw'::text, '0.1.5'::text, 'Ankur Goyal'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/airtable_fdw'::text $fn$;
create function airtable_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'base_id' = any (opts) then raise exception 'required option `base_id` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
    if not 'table_id' = any (opts) then raise exception 'required option `table_id` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
  end if;
end
$fn$;

-- Auth0Fdw
create function auth0_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function auth0_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'Auth0Fdw'::text, '0.1.2'::text, 'Joel'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/auth0_fdw'::text $fn$;
create function auth0_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    if ('api_key' = any (opts)) = ('api_key_id' = any (opts)) then raise exception 'exactly one of `api_key` or `api_key_id` options must be set' using errcode = 'fdw_error'; end if;
    if not 'url' = any (opts) then raise exception '`url` option must be set' using errcode = 'fdw_error'; end if;
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'object' = any (opts) then raise exception 'required option `object` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
  end if;
end
$fn$;

-- BigQueryFdw
create function big_query_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function big_query_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'BigQueryFdw'::text, '0.1.7'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/bigquery_fdw'::text $fn$;
create function big_query_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
end
$fn$;

-- ClickHouseFdw
create function click_house_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function click_house_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'ClickHouseFdw'::text, '0.1.11'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/clickhouse_fdw'::text $fn$;
create function click_house_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
end
$fn$;

-- CognitoFdw
create function cognito_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function cognito_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'CognitoFdw'::text, '0.1.4'::text, 'Joel'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/cognito_fdw'::text $fn$;
create function cognito_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    if not ('aws_access_key_id' = any (opts) or 'aws_secret_access_key' = any (opts)) then raise exception 'both `api_key` and `api_secret_key` options must be set' using errcode = 'fdw_error'; end if;
    if ('api_key_id' = any (opts)) = ('aws_secret_access_key' = any (opts)) then raise exception 'exactly one of `aws_secret_access_key` or `api_key_id` options must be set' using errcode = 'fdw_error'; end if;
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'object' = any (opts) then raise exception 'required option `object` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- DuckdbFdw
create function duckdb_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function duckdb_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'DuckdbFdw'::text, '0.1.2'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/duckdb_fdw'::text $fn$;
create function duckdb_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    if not 'type' = any (opts) then raise exception 'required option `type` is not specified' using errcode = 'fdw_error'; end if;
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'table' = any (opts) then raise exception 'required option `table` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- DynamoDbFdw
create function dynamo_db_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function dynamo_db_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'DynamoDbFdw'::text, '0.1.0'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/dynamodb_fdw'::text $fn$;
create function dynamo_db_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    -- a key pair given half is named; then one whole pair, direct or from Vault, is required
    if 'aws_access_key_id' = any (opts) then if not 'aws_secret_access_key' = any (opts) then raise exception 'required option `aws_secret_access_key` is not specified' using errcode = 'fdw_error'; end if; end if;
    if 'aws_secret_access_key' = any (opts) then if not 'aws_access_key_id' = any (opts) then raise exception 'required option `aws_access_key_id` is not specified' using errcode = 'fdw_error'; end if; end if;
    if 'vault_access_key_id' = any (opts) then if not 'vault_secret_access_key' = any (opts) then raise exception 'required option `vault_secret_access_key` is not specified' using errcode = 'fdw_error'; end if; end if;
    if 'vault_secret_access_key' = any (opts) then if not 'vault_access_key_id' = any (opts) then raise exception 'required option `vault_access_key_id` is not specified' using errcode = 'fdw_error'; end if; end if;
    if not ('aws_access_key_id' = any (opts) or 'vault_access_key_id' = any (opts)) then raise exception 'invalid server options: must provide either (aws_access_key_id + aws_secret_access_key) or (vault_access_key_id + vault_secret_access_key)' using errcode = 'fdw_error'; end if;
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'table' = any (opts) then raise exception 'required option `table` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- FirebaseFdw
create function firebase_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function firebase_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'FirebaseFdw'::text, '0.1.3'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/firebase_fdw'::text $fn$;
create function firebase_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'object' = any (opts) then raise exception 'required option `object` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- HelloWorldFdw
create function hello_world_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function hello_world_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'HelloWorldFdw'::text, '0.1.1'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/helloworld_fdw'::text $fn$;
create function hello_world_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
end
$fn$;

-- IcebergFdw
create function iceberg_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function iceberg_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'IcebergFdw'::text, '0.1.5'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/iceberg_fdw'::text $fn$;
create function iceberg_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'table' = any (opts) then raise exception 'required option `table` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- LogflareFdw
create function logflare_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function logflare_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'LogflareFdw'::text, '0.1.1'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/logflare_fdw'::text $fn$;
create function logflare_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'endpoint' = any (opts) then raise exception 'required option `endpoint` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- MongodbFdw
create function mongodb_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function mongodb_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'MongodbFdw'::text, '0.1.0'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/mongodb_fdw'::text $fn$;
create function mongodb_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    if not ('conn_string' = any (opts) or 'conn_string_id' = any (opts)) then raise exception 'server option ''conn_string'' or ''conn_string_id'' is required' using errcode = 'fdw_error'; end if;
    if 'conn_string' = any (opts) and 'conn_string_id' = any (opts) then raise exception 'server options ''conn_string'' and ''conn_string_id'' cannot both be set' using errcode = 'fdw_error'; end if;
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'database' = any (opts) then raise exception 'required option `database` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
    if not 'collection' = any (opts) then raise exception 'required option `collection` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
  end if;
end
$fn$;

-- MssqlFdw
create function mssql_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function mssql_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'MssqlFdw'::text, '0.1.4'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/mssql_fdw'::text $fn$;
create function mssql_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
end
$fn$;

-- MysqlFdw
create function mysql_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function mysql_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'MysqlFdw'::text, '0.1.1'::text, 'Wener'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/mysql_fdw'::text $fn$;
create function mysql_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'table' = any (opts) then raise exception 'required option `table` is not specified' using errcode = 'fdw_option_name_not_found'; end if;
  end if;
end
$fn$;

-- RedisFdw
create function redis_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function redis_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'RedisFdw'::text, '0.1.1'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/redis_fdw'::text $fn$;
create function redis_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
end
$fn$;

-- S3Fdw
create function s3_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function s3_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'S3Fdw'::text, '0.1.6'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/s3_fdw'::text $fn$;
create function s3_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'uri' = any (opts) then raise exception 'required option `uri` is not specified' using errcode = 'fdw_error'; end if;
    if not 'format' = any (opts) then raise exception 'required option `format` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- S3VectorsFdw
create function s3_vectors_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function s3_vectors_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'S3VectorsFdw'::text, '0.1.2'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/s3vectors_fdw'::text $fn$;
create function s3_vectors_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'bucket_name' = any (opts) then raise exception 'required option `bucket_name` is not specified' using errcode = 'fdw_error'; end if;
    if not 'index_name' = any (opts) then raise exception 'required option `index_name` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- StripeFdw
create function stripe_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function stripe_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'StripeFdw'::text, '0.1.12'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/stripe_fdw'::text $fn$;
create function stripe_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_table'::regclass then
    if not 'object' = any (opts) then raise exception 'required option `object` is not specified' using errcode = 'fdw_error'; end if;
  end if;
end
$fn$;

-- WasmFdw
create function wasm_fdw_handler() returns fdw_handler
  language c strict as '$libdir/file_fdw', 'file_fdw_handler';
create function wasm_fdw_meta() returns table (name text, version text, author text, website text)
  language sql as $fn$ select 'WasmFdw'::text, '0.1.5'::text, 'Supabase'::text,
    'https://github.com/supabase/wrappers/tree/main/wrappers/src/fdw/wasm_fdw'::text $fn$;
create function wasm_fdw_validator(options text[], catalog oid) returns void
language plpgsql as $fn$
declare
  opts text[] := array(select split_part(o, '=', 1) from unnest(options) as o);
begin
  if opts && array['filename', 'program'] then
    raise exception 'wrappers stand-in: options filename and program are refused' using errcode = 'fdw_invalid_option_name';
  end if;
  if catalog = 'pg_catalog.pg_foreign_server'::regclass then
    if not 'fdw_package_url' = any (opts) then raise exception 'required option `fdw_package_url` is not specified' using errcode = 'fdw_error'; end if;
    if not 'fdw_package_name' = any (opts) then raise exception 'required option `fdw_package_name` is not specified' using errcode = 'fdw_error'; end if;
    if not 'fdw_package_version' = any (opts) then raise exception 'required option `fdw_package_version` is not specified' using errcode = 'fdw_error'; end if;
    -- a package from a local file needs no checksum
    if not exists (select from unnest(options) as o where o like 'fdw_package_url=file://%') then if not 'fdw_package_checksum' = any (opts) then raise exception 'required option `fdw_package_checksum` is not specified' using errcode = 'fdw_error'; end if; end if;
  end if;
end
$fn$;

-- The S3 Vectors FDW's vector type. Its input and output are C in Wrappers; here they are PostgreSQL's own jsonb
-- ones (the input Wrappers takes is JSON too), so a value prints as the JSON it was given.
create type s3vec;
create function s3vec_in(input cstring) returns s3vec
  language internal immutable strict parallel safe as 'jsonb_in';
create function s3vec_out(input s3vec) returns cstring
  language internal immutable strict parallel safe as 'jsonb_out';
create type s3vec (input = s3vec_in, output = s3vec_out, internallength = variable, storage = extended);

-- In Wrappers these only mark a condition for the FDW to push down; they are true in SQL.
create function s3vec_knn(_left s3vec, _right s3vec) returns boolean
  language sql immutable strict parallel safe as $fn$ select true $fn$;
create function metadata_filter(_left jsonb, _right jsonb) returns boolean
  language sql immutable strict parallel safe as $fn$ select true $fn$;
create operator <==> (procedure = s3vec_knn, leftarg = s3vec, rightarg = s3vec);
create operator <==> (procedure = metadata_filter, leftarg = jsonb, rightarg = jsonb);

-- The distance of a vector returned by a similarity query; no query runs here.
create function s3vec_distance(s3vec s3vec) returns real
  language sql immutable strict parallel safe as $fn$ select 0::real $fn$;
