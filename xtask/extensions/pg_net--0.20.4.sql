-- Stand-in for pg_net 0.20.4 (supabase/pg_net), written in SQL and PL/pgSQL.
--
-- Reproduced: schema net with its queue and response tables, types and functions, with pg_net's argument names,
-- defaults and return types. net.http_get/http_post/http_delete check their input as pg_net does, put the request
-- in net.http_request_queue (what a migration can observe) and return its id.
-- Not reproduced: no request is ever sent. There is no background worker and no libcurl, so requests stay in the
-- queue, net._http_response stays empty, and collecting a response reports it as not found instead of waiting.
-- The extension's own schema (the one CREATE EXTENSION names, `extensions` on the platform) holds nothing.
\echo Use "CREATE EXTENSION pg_net" to load this file. \quit

create schema net;

create domain net.http_method as text
  check (value ilike 'get' or value ilike 'post' or value ilike 'delete');

create type net.request_status as enum ('PENDING', 'SUCCESS', 'ERROR');

create type net.http_response as (
  status_code integer,
  headers jsonb,
  body text
);

create type net.http_response_result as (
  status net.request_status,
  message text,
  response net.http_response
);

-- Requests waiting for the worker; pg_net keeps them unlogged.
create unlogged table net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds integer not null
);

-- Responses the worker would write, one per request id.
create unlogged table net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index on net._http_response (created);

-- Percent-encodes every byte of the UTF-8 text but letters, digits and - . _ ~ (as curl_easy_escape does).
create function net._urlencode_string(string character varying) returns text
language sql immutable as $fn$
  select case when string is null then null else coalesce((
    select string_agg(case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122 or b in (45, 46, 95, 126)
                           then chr(b) else '%' || upper(lpad(to_hex(b), 2, '0')) end, '' order by i)
    from (select i, get_byte(convert_to(string, 'UTF8'), i) as b
          from generate_series(0, octet_length(convert_to(string, 'UTF8')) - 1) as i) as bytes), '') end
$fn$;

-- The URL with the encoded key=value pairs appended to its query. pg_net parses the URL with libcurl; this checks
-- only that it is absolute (scheme://host) and, like libcurl, gives an empty path a '/'.
create function net._encode_url_with_params_array(url text, params_array text[]) returns text
language plpgsql immutable as $fn$
declare
  parts text[];
  query text;
begin
  if url is null or params_array is null then
    return null;
  end if;
  parts := regexp_match(url, '^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s]+)([^?#\s]*)(\?[^#\s]*)?(#\S*)?$');
  if parts is null then
    raise exception 'URL using bad/illegal format or missing URL';
  end if;
  query := nullif(ltrim(coalesce(parts[4], ''), '?'), '');
  select string_agg(p, '&' order by i) into query
  from unnest(array[query] || params_array) with ordinality as t(p, i)
  where p is not null;
  return lower(parts[1]) || '://' || parts[2] || coalesce(nullif(parts[3], ''), '/')
         || coalesce('?' || query, '') || coalesce(parts[5], '');
end
$fn$;

-- The worker's lifecycle functions: there is no worker; they answer as if it were running.
create function net.check_worker_is_up() returns void
language plpgsql as $fn$
begin
end
$fn$;

create function net.worker_restart() returns boolean
language plpgsql as $fn$
begin
  return true;
end
$fn$;

create function net.wait_until_running() returns void
language plpgsql as $fn$
begin
end
$fn$;

create function net.wake() returns void
language plpgsql as $fn$
begin
end
$fn$;

-- Whether the response to a request is there. pg_net waits for it; here none will ever come, so this answers at once.
create function net._await_response(request_id bigint) returns boolean
language plpgsql as $fn$
begin
  return exists (select 1 from net._http_response r where r.id = request_id);
end
$fn$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql as $fn$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET',
          net._encode_url_with_params_array(url, (select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
                                                   from jsonb_each_text(params))),
          headers, timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$fn$;

create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql as $fn$
declare
  request_id bigint;
  content_type text;
begin
  -- pg_net posts JSON only: a Content-Type is added when missing and must be application/json when given.
  select h.value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) as h
  where lower(h.key) = 'content-type'
  limit 1;
  if content_type is null then
    headers := headers || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;

  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST',
          net._encode_url_with_params_array(url, (select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
                                                   from jsonb_each_text(params))),
          headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$fn$;

create function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000,
  body jsonb default null
) returns bigint
language plpgsql as $fn$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('DELETE',
          net._encode_url_with_params_array(url, (select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
                                                   from jsonb_each_text(params))),
          headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$fn$;

-- The response to a request as pg_net reports it: an ERROR result while there is none (always, here).
create function net._http_collect_response(request_id bigint, async boolean default true)
returns net.http_response_result
language plpgsql as $fn$
declare
  rec net._http_response;
begin
  if not async then
    perform net._await_response(request_id);
  end if;
  select * into rec from net._http_response r where r.id = request_id;
  if rec is null or rec.error_msg is not null then
    return row('ERROR', coalesce(rec.error_msg, 'request matching request_id not found'), null)::net.http_response_result;
  end if;
  return row('SUCCESS', 'ok', row(rec.status_code, rec.headers, rec.content)::net.http_response)::net.http_response_result;
end
$fn$;

-- Deprecated in pg_net; kept with its signature.
create function net.http_collect_response(request_id bigint, async boolean default true)
returns net.http_response_result
language plpgsql as $fn$
begin
  raise notice 'The net.http_collect_response function is deprecated.';
  return net._http_collect_response(request_id, async);
end
$fn$;

-- pg_net's grants: anyone may queue requests and read the tables.
grant usage on schema net to public;
grant all on all sequences in schema net to public;
grant all on all tables in schema net to public;

-- The platform's grant_pg_net_access event trigger names the API roles too.
do $grants$
declare
  r text;
begin
  for r in select rolname from pg_catalog.pg_roles
           where rolname in ('supabase_functions_admin', 'postgres', 'anon', 'authenticated', 'service_role')
             and rolname <> current_user
  loop
    execute format('grant usage on schema net to %I', r);
  end loop;
end
$grants$;
