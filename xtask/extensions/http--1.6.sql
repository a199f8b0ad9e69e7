-- Stand-in for pgsql-http 1.6 (pramsey/pgsql-http, extension `http`), written in SQL and PL/pgSQL. Supabase
-- creates it in schema extensions (`create extension http with schema extensions`); every object goes to the
-- schema CREATE EXTENSION names.
--
-- Reproduced: the types (http_method, content_type, http_header, http_response, http_request) and every function
-- with its argument names and return type. http() checks a request as pgsql-http does (uri, method, content and
-- its type); the curl options a session may set are checked and listed; urlencode, text_to_bytea and
-- bytea_to_text compute what pgsql-http computes.
-- Not reproduced: no request is ever made. http() and the http_* helpers return an http_response whose status,
-- content type and content are null (no headers), with a NOTICE naming the request that was not sent.
\echo Use "CREATE EXTENSION http" to load this file. \quit

create domain @extschema@.http_method as text;
create domain @extschema@.content_type as text check (value ~ '^\S+\/\S+');

create type @extschema@.http_header as (
  field character varying,
  value character varying
);

create type @extschema@.http_response as (
  status integer,
  content_type character varying,
  headers @extschema@.http_header[],
  content character varying
);

create type @extschema@.http_request as (
  method @extschema@.http_method,
  uri character varying,
  headers @extschema@.http_header[],
  content_type character varying,
  content character varying
);

-- The curl options pgsql-http lets a session set, kept for the session in the setting http.standin_curlopts.
create function @extschema@.http_set_curlopt(curlopt character varying, value character varying) returns boolean
language plpgsql as $fn$
declare
  known text[] := array['CURLOPT_CAINFO', 'CURLOPT_TIMEOUT', 'CURLOPT_TIMEOUT_MS', 'CURLOPT_CONNECTTIMEOUT',
    'CURLOPT_CONNECTTIMEOUT_MS', 'CURLOPT_USERAGENT', 'CURLOPT_USERPWD', 'CURLOPT_IPRESOLVE', 'CURLOPT_SSLCERTTYPE',
    'CURLOPT_PROXY', 'CURLOPT_PROXYPORT', 'CURLOPT_PROXYUSERNAME', 'CURLOPT_PROXYPASSWORD', 'CURLOPT_TLSAUTH_USERNAME',
    'CURLOPT_TLSAUTH_PASSWORD', 'CURLOPT_TLSAUTH_TYPE', 'CURLOPT_DNS_SERVERS', 'CURLOPT_TCP_KEEPALIVE',
    'CURLOPT_TCP_KEEPIDLE', 'CURLOPT_SSL_VERIFYHOST', 'CURLOPT_SSL_VERIFYPEER', 'CURLOPT_SSLCERT', 'CURLOPT_SSLKEY',
    'CURLOPT_PRE_PROXY', 'CURLOPT_PROXY_CAINFO', 'CURLOPT_PROXY_TLSAUTH_USERNAME', 'CURLOPT_PROXY_TLSAUTH_PASSWORD',
    'CURLOPT_PROXY_TLSAUTH_TYPE', 'CURLOPT_SSLKEY_BLOB', 'CURLOPT_SSLCERT_BLOB'];
  numeric_opts text[] := array['CURLOPT_TIMEOUT', 'CURLOPT_TIMEOUT_MS', 'CURLOPT_CONNECTTIMEOUT',
    'CURLOPT_CONNECTTIMEOUT_MS', 'CURLOPT_IPRESOLVE', 'CURLOPT_PROXYPORT', 'CURLOPT_TCP_KEEPALIVE',
    'CURLOPT_TCP_KEEPIDLE', 'CURLOPT_SSL_VERIFYHOST', 'CURLOPT_SSL_VERIFYPEER'];
  opt text;
  current jsonb;
begin
  if curlopt is null or value is null then
    return false;
  end if;
  opt := upper(curlopt);
  if not opt = any (known) then
    raise exception 'curl option ''%'' is not available for run-time configuration', curlopt;
  end if;
  if opt = any (numeric_opts) and value !~ '^\s*[+-]?[0-9]' then
    raise exception 'invalid integer provided for ''%''', opt;
  end if;
  current := coalesce(nullif(current_setting('http.standin_curlopts', true), ''), '{}')::jsonb;
  perform set_config('http.standin_curlopts', (current || jsonb_build_object(opt, value))::text, false);
  return true;
end
$fn$;

create function @extschema@.http_reset_curlopt() returns boolean
language plpgsql as $fn$
begin
  perform set_config('http.standin_curlopts', '{}', false);
  return true;
end
$fn$;

create function @extschema@.http_list_curlopt() returns table (curlopt text, value text)
language sql as $fn$
  select o.key, o.value
  from jsonb_each_text(coalesce(nullif(current_setting('http.standin_curlopts', true), ''), '{}')::jsonb) as o
$fn$;

create function @extschema@.http_header(field character varying, value character varying)
returns @extschema@.http_header
language sql as $fn$
  select row(field, value)::@extschema@.http_header
$fn$;

-- The request is checked as pgsql-http checks it, then not sent.
create function @extschema@.http(request @extschema@.http_request) returns @extschema@.http_response
language plpgsql as $fn$
declare
  verb text;
begin
  if request is null then
    raise exception 'An http_request must be provided';
  end if;
  if request.uri is null then
    raise exception 'http_request.uri is NULL';
  end if;
  if request.method is null then
    raise exception 'http_request.method is NULL';
  end if;
  verb := upper(request.method);
  if request.content is not null and request.content_type is null then
    raise exception 'http_request.content_type is NULL';
  end if;
  if request.content is null and verb in ('PUT', 'POST') then
    raise exception 'http_request.content is NULL';
  end if;
  raise notice 'http stand-in: % % was not sent', verb, request.uri;
  return row(null, null, '{}', null)::@extschema@.http_response;
end
$fn$;

create function @extschema@.http_get(uri character varying) returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('GET', uri, null, null, null)::@extschema@.http_request)
$fn$;

create function @extschema@.http_post(uri character varying, content character varying, content_type character varying)
returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('POST', uri, null, content_type, content)::@extschema@.http_request)
$fn$;

create function @extschema@.http_put(uri character varying, content character varying, content_type character varying)
returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('PUT', uri, null, content_type, content)::@extschema@.http_request)
$fn$;

create function @extschema@.http_patch(uri character varying, content character varying, content_type character varying)
returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('PATCH', uri, null, content_type, content)::@extschema@.http_request)
$fn$;

create function @extschema@.http_delete(uri character varying) returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('DELETE', uri, null, null, null)::@extschema@.http_request)
$fn$;

create function @extschema@.http_delete(uri character varying, content character varying, content_type character varying)
returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('DELETE', uri, null, content_type, content)::@extschema@.http_request)
$fn$;

create function @extschema@.http_head(uri character varying) returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('HEAD', uri, null, null, null)::@extschema@.http_request)
$fn$;

-- pgsql-http's form encoding: letters, digits and - . _ ~ pass, a space becomes '+', every other byte %XX.
create function @extschema@.urlencode(string bytea) returns text
language sql immutable strict as $fn$
  select coalesce(string_agg(case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122
                                       or b in (45, 46, 95, 126) then chr(b)
                                  when b = 32 then '+'
                                  else '%' || upper(lpad(to_hex(b), 2, '0')) end, '' order by i), '')
  from (select i, get_byte(string, i) as b from generate_series(0, length(string) - 1) as i) as bytes
$fn$;

create function @extschema@.urlencode(string character varying) returns text
language sql immutable strict as $fn$
  select @extschema@.urlencode(convert_to(string, pg_catalog.getdatabaseencoding()))
$fn$;

-- The top-level keys of a JSON object as key=value pairs; nested values are skipped, null is empty.
create function @extschema@.urlencode(data jsonb) returns text
language plpgsql immutable strict as $fn$
declare
  encoded text;
begin
  if jsonb_typeof(data) <> 'object' then
    raise exception 'cannot call urlencode_jsonb on a non-object' using errcode = '22023';
  end if;
  select string_agg(@extschema@.urlencode(e.key::character varying) || '=' ||
                    @extschema@.urlencode((case jsonb_typeof(e.value)
                                             when 'string' then e.value #>> '{}'
                                             when 'number' then trim_scale((e.value #>> '{}')::numeric)::text
                                             when 'boolean' then e.value #>> '{}'
                                             else '' end)::character varying),
                    '&' order by e.ord)
    into encoded
  from jsonb_each(data) with ordinality as e(key, value, ord)
  where e.key <> '' and jsonb_typeof(e.value) not in ('object', 'array');
  return encoded;
end
$fn$;

create function @extschema@.http_get(uri character varying, data jsonb) returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('GET', uri || '?' || @extschema@.urlencode(data), null, null, null)::@extschema@.http_request)
$fn$;

create function @extschema@.http_post(uri character varying, data jsonb) returns @extschema@.http_response
language sql as $fn$
  select @extschema@.http(row('POST', uri, null, 'application/x-www-form-urlencoded',
                              @extschema@.urlencode(data))::@extschema@.http_request)
$fn$;

-- The same bytes read as the other type (in the database's encoding).
create function @extschema@.text_to_bytea(data text) returns bytea
language sql immutable strict as $fn$
  select convert_to(data, pg_catalog.getdatabaseencoding())
$fn$;

create function @extschema@.bytea_to_text(data bytea) returns text
language sql immutable strict as $fn$
  select convert_from(data, pg_catalog.getdatabaseencoding())
$fn$;
