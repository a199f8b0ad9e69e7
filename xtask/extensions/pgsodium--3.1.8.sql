-- Stand-in for pgsodium 3.1.8 (michelp/pgsodium), written in SQL and PL/pgSQL, in schema pgsodium.
--
-- Reproduced: the roles pgsodium_keyiduser, pgsodium_keyholder and pgsodium_keymaker; the key table with its
-- constraints, indexes and raw-key encryption trigger; the views valid_key, decrypted_key, masking_rule and
-- mask_columns; every pgsodium function with its argument names, defaults, volatility, strictness, owner and
-- grants (plus the platform's grants to service_role and its mask_role). create_key, get_key_by_id/name and
-- get_named_keys work. crypto_hash_sha256/512, crypto_auth_hmacsha256/512 and crypto_auth compute exactly what
-- libsodium computes (SHA-2 and HMAC are in PostgreSQL); the random and key/nonce generators return random bytes
-- of libsodium's sizes; base64 helpers are libsodium's URL-safe variant.
-- Not reproduced, and why:
--   * libsodium's ciphers, BLAKE2b, SipHash, Argon2 and Ed25519/X25519 are not in PostgreSQL. The encrypt/decrypt,
--     box, seal, sign, key-exchange, generic/short hash, KDF, password-hash and stream functions are look-alikes
--     built on SHA-256: they round-trip (what is encrypted here decrypts here, a wrong key or nonce fails, a
--     signature verifies with its public key), give libsodium's output sizes, and are neither secure nor
--     compatible with values made by the real pgsodium.
--   * Keys by id (key_id/key_context) are derived from a fixed stand-in root key, not from a server secret.
--   * Transparent column encryption needs pgsodium's security-label provider, which only C can register:
--     `security label for pgsodium ...` fails ("security label provider "pgsodium" is not loaded"), so no masking
--     view or encryption trigger is ever generated, and pgsodium.key.raw_key carries no label.
\echo Use "CREATE EXTENSION pgsodium" to load this file. \quit

-- The roles pgsodium's grants use (cluster-wide, so they may exist already and outlive the extension).
do $roles$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgsodium_keyiduser') then
    create role pgsodium_keyiduser nologin;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgsodium_keyholder') then
    create role pgsodium_keyholder nologin;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgsodium_keymaker') then
    create role pgsodium_keymaker nologin;
  end if;
end
$roles$;
-- A key maker holds keys; a key holder uses keys by id.
grant pgsodium_keyholder to pgsodium_keymaker;
grant pgsodium_keyiduser to pgsodium_keymaker;
grant pgsodium_keyiduser to pgsodium_keyholder;

grant usage on schema pgsodium to public;
-- Where pgsodium would put the masking views of labelled tables.
create schema pgsodium_masks;
grant usage on schema pgsodium_masks to pgsodium_keyiduser;

create type pgsodium.key_status as enum ('default', 'valid', 'invalid', 'expired');
create type pgsodium.key_type as enum ('aead-ietf', 'aead-det', 'hmacsha512', 'hmacsha256', 'auth', 'shorthash',
                                       'generichash', 'kdf', 'secretbox', 'secretstream', 'stream_xchacha20');

create type pgsodium._key_id_context as (key_id bigint, key_context bytea);
create type pgsodium.crypto_box_keypair as (public bytea, secret bytea);
create type pgsodium.crypto_kx_keypair as (public bytea, secret bytea);
create type pgsodium.crypto_kx_session as (rx bytea, tx bytea);
create type pgsodium.crypto_sign_keypair as (public bytea, secret bytea);
create type pgsodium.crypto_signcrypt_keypair as (public bytea, secret bytea);
create type pgsodium.crypto_signcrypt_state_key as (state bytea, shared_key bytea);

-- Key metadata. A key is either derived (key_id + key_context, nothing secret stored) or raw (raw_key, stored
-- encrypted with its parent key).
create sequence pgsodium.key_key_id_seq;
create table pgsodium.key (
  id uuid not null default gen_random_uuid(),
  status pgsodium.key_status default 'valid',
  created timestamptz not null default current_timestamp,
  expires timestamptz,
  key_type pgsodium.key_type,
  key_id bigint default nextval('pgsodium.key_key_id_seq'),
  key_context bytea default '\x7067736f6469756d',
  name text,
  associated_data text default 'associated',
  raw_key bytea,
  raw_key_nonce bytea,
  parent_key uuid,
  comment text,
  user_data text,
  constraint key_pkey primary key (id),
  constraint pgsodium_key_unique_name unique (name),
  constraint key_parent_key_fkey foreign key (parent_key) references pgsodium.key (id),
  constraint key_key_context_check check (length(key_context) = 8),
  constraint pgsodium_raw check (case when raw_key is not null
                                      then key_id is null and key_context is null and parent_key is not null
                                      else key_id is not null and key_context is not null and parent_key is null end)
);
alter sequence pgsodium.key_key_id_seq owned by pgsodium.key.key_id;
create index key_status_idx on pgsodium.key (status) where status in ('valid', 'default');
create unique index key_status_idx1 on pgsodium.key (status) where status = 'default';
create unique index key_key_id_key_context_key_type_idx on pgsodium.key (key_id, key_context, key_type);
select pg_catalog.pg_extension_config_dump('pgsodium.key', '');
select pg_catalog.pg_extension_config_dump('pgsodium.key_key_id_seq', '');

-- ---------------------------------------------------------------------------------------------------------------
-- Building blocks of the look-alike cryptography (not part of pgsodium).
-- ---------------------------------------------------------------------------------------------------------------

-- Random bytes from PostgreSQL's strong random source (gen_random_uuid), hashed to drop the UUID's fixed bits.
create function pgsodium._standin_random(size integer) returns bytea
language plpgsql volatile set search_path = pg_catalog, pg_temp as $fn$
declare
  bytes bytea := '';
begin
  while length(bytes) < size loop
    bytes := bytes || sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
  end loop;
  return substring(bytes from 1 for greatest(size, 0));
end
$fn$;

-- HMAC (RFC 2104) over PostgreSQL's SHA-256/SHA-512: what libsodium's HMAC functions compute.
create function pgsodium._standin_hmac(algorithm text, key bytea, message bytea) returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  block integer := case algorithm when 'sha256' then 64 else 128 end;
  k bytea := key;
  inner_pad bytea;
  outer_pad bytea;
begin
  if length(k) > block then
    k := case algorithm when 'sha256' then sha256(k) else sha512(k) end;
  end if;
  k := k || decode(repeat('00', block - length(k)), 'hex');
  inner_pad := k;
  outer_pad := k;
  for i in 0 .. block - 1 loop
    inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);
  end loop;
  if algorithm = 'sha256' then
    return sha256(outer_pad || sha256(inner_pad || message));
  end if;
  return sha512(outer_pad || sha512(inner_pad || message));
end
$fn$;

-- A key stream from a key and a nonce (SHA-256 in counter mode), starting at block `counter`.
create function pgsodium._standin_stream(key bytea, nonce bytea, size bigint, counter bigint default 0) returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  bytes bytea := '';
  block bigint := counter;
begin
  while length(bytes) < size loop
    bytes := bytes || sha256(key || coalesce(nonce, '') || int8send(block));
    block := block + 1;
  end loop;
  return substring(bytes from 1 for greatest(size, 0)::integer);
end
$fn$;

create function pgsodium._standin_xor(data bytea, stream bytea) returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  result bytea := data;
begin
  for i in 0 .. length(data) - 1 loop
    result := set_byte(result, i, get_byte(data, i) # get_byte(stream, i));
  end loop;
  return result;
end
$fn$;

-- Authenticated encryption look-alike: the message XORed with the key stream, then a 16-byte tag over nonce,
-- associated data and ciphertext (libsodium's sizes: message + 16).
create function pgsodium._standin_seal(message bytea, additional bytea, nonce bytea, key bytea) returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  sealed bytea := pgsodium._standin_xor(message, pgsodium._standin_stream(key, nonce, length(message)));
begin
  return sealed || substring(pgsodium._standin_hmac('sha256', key, coalesce(nonce, '') || '\x00'::bytea
                                                    || coalesce(additional, '') || '\x00'::bytea || sealed)
                             from 1 for 16);
end
$fn$;

-- The inverse; a wrong key, nonce or associated data fails as pgsodium does.
create function pgsodium._standin_open(fn text, ciphertext bytea, additional bytea, nonce bytea, key bytea)
returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  body bytea;
begin
  if length(ciphertext) <= 16 then
    raise exception '%: invalid message', fn using errcode = 'data_exception';
  end if;
  body := substring(ciphertext from 1 for length(ciphertext) - 16);
  if pgsodium._standin_seal(pgsodium._standin_xor(body, pgsodium._standin_stream(key, nonce, length(body))),
                            additional, nonce, key) <> ciphertext then
    raise exception '%: invalid ciphertext', fn using errcode = 'data_exception';
  end if;
  return pgsodium._standin_xor(body, pgsodium._standin_stream(key, nonce, length(body)));
end
$fn$;

-- Public-key look-alikes: a public key is a hash of its secret key, and two parties share the hash of their
-- two public keys. Round trips work; anyone holding the public keys could compute the shared key.
create function pgsodium._standin_public(secret bytea) returns bytea
language sql immutable as $fn$
  select pg_catalog.sha256('\x7075626c6963'::bytea || secret)
$fn$;

create function pgsodium._standin_shared(one bytea, other bytea) returns bytea
language sql immutable as $fn$
  select pg_catalog.sha256(least(one, other) || greatest(one, other))
$fn$;

-- Keys by id: pgsodium derives them from the server's root key (loaded at start, never stored); here the root is
-- a fixed stand-in value, the same in every local database.
create function pgsodium._standin_derive(fn text, key_id bigint, size integer, context bytea) returns bytea
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
declare
  bytes bytea := '';
  block integer := 0;
begin
  if key_id is null then
    raise exception '%: key id cannot be NULL', fn using errcode = 'data_exception';
  end if;
  if context is null then
    raise exception '%: key context cannot be NULL', fn using errcode = 'data_exception';
  end if;
  while length(bytes) < size loop
    bytes := bytes || pgsodium._standin_hmac('sha256', sha256(convert_to('pgsodium stand-in root key', 'UTF8')),
                                             int8send(key_id) || context || int4send(size) || int4send(block));
    block := block + 1;
  end loop;
  return substring(bytes from 1 for size);
end
$fn$;

-- pgsodium's argument checks: a missing argument or a key or nonce of the wrong size is a data exception
-- naming pgsodium's C function.
create function pgsodium._standin_check(fn text, checks text[]) returns void
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
begin
  if array_length(checks, 1) > 0 then
    raise exception '%: %', fn, checks[1] using errcode = 'data_exception';
  end if;
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Keys
-- ---------------------------------------------------------------------------------------------------------------

create view pgsodium.valid_key as
  select id, name, status, key_type, key_id, key_context, created, expires, associated_data
  from pgsodium.key
  where status in ('valid', 'default') and (expires is null or expires > now());

create function pgsodium.key_encrypt_secret_raw_key() returns trigger
language plpgsql as $fn$
begin
  if new.raw_key is not null and new.parent_key is not null then
    new.raw_key := pgsodium.crypto_aead_det_encrypt(new.raw_key, pg_catalog.convert_to(new.id::text || new.associated_data, 'utf8'),
                                                    new.parent_key, new.raw_key_nonce);
  elsif new.raw_key is not null then
    new.raw_key := null;
  end if;
  return new;
end
$fn$;

create trigger key_encrypt_secret_trigger_raw_key
  before insert or update of raw_key on pgsodium.key
  for each row execute function pgsodium.key_encrypt_secret_raw_key();

-- A new key: derived unless a raw key is given, which is then stored encrypted under a parent key (a new one
-- when none is named).
create function pgsodium.create_key(
  key_type pgsodium.key_type default 'aead-det',
  name text default null,
  raw_key bytea default null,
  raw_key_nonce bytea default null,
  parent_key uuid default null,
  key_context bytea default '\x7067736f6469756d',
  expires timestamptz default null,
  associated_data text default ''
) returns pgsodium.valid_key
language plpgsql security definer set search_path = '' as $fn$
declare
  new_id uuid;
  result pgsodium.valid_key;
begin
  insert into pgsodium.key (key_id, key_context, key_type, raw_key, raw_key_nonce, parent_key, expires, name,
                            associated_data)
  values (case when raw_key is null then pg_catalog.nextval('pgsodium.key_key_id_seq'::regclass) end,
          case when raw_key is null then key_context end,
          key_type,
          raw_key,
          case when raw_key is not null then coalesce(raw_key_nonce, pgsodium.crypto_aead_det_noncegen()) end,
          case when raw_key is not null and parent_key is null then (pgsodium.create_key('aead-det')).id
               else parent_key end,
          expires,
          name,
          associated_data)
  returning id into new_id;
  select * into result from pgsodium.valid_key where id = new_id;
  return result;
end
$fn$;

create function pgsodium.get_key_by_id(uuid) returns pgsodium.valid_key
language sql security definer set search_path = '' as $fn$
  select * from pgsodium.valid_key where id = $1
$fn$;

create function pgsodium.get_key_by_name(text) returns pgsodium.valid_key
language sql security definer set search_path = '' as $fn$
  select * from pgsodium.valid_key where name = $1
$fn$;

create function pgsodium.get_named_keys(filter text default '%') returns setof pgsodium.valid_key
language sql security definer set search_path = '' as $fn$
  select * from pgsodium.valid_key where name ilike filter
$fn$;

create function pgsodium.version() returns text
language sql as $fn$
  select extversion from pg_catalog.pg_extension where extname = 'pgsodium'
$fn$;

-- The key a uuid names, for the functions that take one: it must be valid and of the expected type (pgsodium
-- reads it from decrypted_key, as this does).
create function pgsodium._standin_key(key_uuid uuid, wanted pgsodium.key_type,
                                      out decrypted_raw_key bytea, out key_id bigint, out key_context bytea)
language plpgsql stable set search_path = '' as $fn$
begin
  select v.decrypted_raw_key, v.key_id, v.key_context into strict decrypted_raw_key, key_id, key_context
  from pgsodium.decrypted_key v where v.id = key_uuid and v.key_type = wanted;
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Random bytes and key/nonce generators (libsodium's sizes)
-- ---------------------------------------------------------------------------------------------------------------

create function pgsodium.randombytes_random() returns integer
language sql volatile as $fn$
  select ('x' || pg_catalog.encode(pgsodium._standin_random(4), 'hex'))::bit(32)::integer
$fn$;

create function pgsodium.randombytes_uniform(upper_bound integer) returns integer
language plpgsql volatile as $fn$
begin
  perform pgsodium._standin_check('pgsodium_randombytes_uniform',
    array_remove(array[case when upper_bound is null then 'upper bound cannot be NULL' end], null));
  if upper_bound < 2 then
    return 0;
  end if;
  return (('x' || pg_catalog.encode(pgsodium._standin_random(8), 'hex'))::bit(64)::bigint & 9223372036854775807)
         % upper_bound;
end
$fn$;

create function pgsodium.randombytes_buf(size integer) returns bytea
language plpgsql volatile as $fn$
begin
  perform pgsodium._standin_check('pgsodium_randombytes_buf',
    array_remove(array[case when size is null then 'buffer size cannot be NULL' end], null));
  return pgsodium._standin_random(size);
end
$fn$;

create function pgsodium.randombytes_new_seed() returns bytea
language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;

create function pgsodium.randombytes_buf_deterministic(size integer, seed bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_randombytes_buf_deterministic',
    array_remove(array[case when size is null then 'buffer size cannot be NULL' end,
                       case when seed is null then 'seed cannot be NULL' end], null));
  return pgsodium._standin_stream(seed, '\x72616e646f6d'::bytea, size);
end
$fn$;

create function pgsodium.crypto_aead_det_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_aead_det_noncegen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(16) $fn$;
create function pgsodium.crypto_aead_ietf_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_aead_ietf_noncegen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(12) $fn$;
create function pgsodium.crypto_auth_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_auth_hmacsha256_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_auth_hmacsha512_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_box_new_seed() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_box_noncegen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(24) $fn$;
create function pgsodium.crypto_generichash_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_kdf_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_kx_new_seed() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_pwhash_saltgen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(16) $fn$;
create function pgsodium.crypto_secretbox_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_secretbox_noncegen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(24) $fn$;
create function pgsodium.crypto_secretstream_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_shorthash_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(16) $fn$;
create function pgsodium.crypto_sign_new_seed() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_stream_xchacha20_keygen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(32) $fn$;
create function pgsodium.crypto_stream_xchacha20_noncegen() returns bytea language sql volatile as $fn$ select pgsodium._standin_random(24) $fn$;

-- Keys derived by id: pgsodium_derive and its newer name derive_key.
create function pgsodium.derive_key(key_id bigint, key_len integer default 32, context bytea default '\x7067736f6469756d')
returns bytea
language sql volatile as $fn$ select pgsodium._standin_derive('pgsodium_derive', key_id, key_len, context) $fn$;

create function pgsodium.pgsodium_derive(key_id bigint, key_len integer default 32,
                                         context bytea default decode('pgsodium', 'escape'))
returns bytea
language sql volatile as $fn$ select pgsodium._standin_derive('pgsodium_derive', key_id, key_len, context) $fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Hashes and MACs
-- ---------------------------------------------------------------------------------------------------------------
-- Each function taking a raw key is a thin wrapper over a _standin_ worker that the key-id variant calls too:
-- pgsodium lets key id users use keys by id without granting them the raw-key functions.

create function pgsodium.crypto_hash_sha256(message bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_hash_sha256',
    array_remove(array[case when message is null then 'message cannot be NULL' end], null));
  return pg_catalog.sha256(message);
end
$fn$;

create function pgsodium.crypto_hash_sha512(message bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_hash_sha512',
    array_remove(array[case when message is null then 'message cannot be NULL' end], null));
  return pg_catalog.sha512(message);
end
$fn$;

-- HMAC-SHA-256 and HMAC-SHA-512 with a 32-byte key: exact.
create function pgsodium._standin_crypto_auth_hmacsha256(message bytea, secret bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth_hmacsha256',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when secret is null then 'key cannot be NULL' end,
                       case when length(secret) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_hmac('sha256', secret, message);
end
$fn$;
create function pgsodium.crypto_auth_hmacsha256(message bytea, secret bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_auth_hmacsha256(message, secret) $fn$;

create function pgsodium.crypto_auth_hmacsha256(message bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth_hmacsha256(message, pgsodium._standin_derive('pgsodium_crypto_auth_hmacsha256_by_id', key_id, 32, context))
$fn$;

create function pgsodium._standin_crypto_auth_hmacsha256_verify(hash bytea, message bytea, secret bytea) returns boolean
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth_hmacsha256_verify',
    array_remove(array[case when hash is null then 'hash cannot be NULL' end,
                       case when message is null then 'message cannot be NULL' end,
                       case when secret is null then 'key cannot be NULL' end,
                       case when length(hash) <> 32 then 'invalid hash' end,
                       case when length(secret) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_hmac('sha256', secret, message) = hash;
end
$fn$;
create function pgsodium.crypto_auth_hmacsha256_verify(hash bytea, message bytea, secret bytea) returns boolean
language sql immutable as $fn$ select pgsodium._standin_crypto_auth_hmacsha256_verify(hash, message, secret) $fn$;

create function pgsodium.crypto_auth_hmacsha256_verify(hash bytea, message bytea, key_id bigint,
                                                       context bytea default '\x7067736f6469756d')
returns boolean
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth_hmacsha256_verify(hash, message, pgsodium._standin_derive('pgsodium_crypto_auth_hmacsha256_verify_by_id', key_id, 32, context))
$fn$;

create function pgsodium._standin_crypto_auth_hmacsha512(message bytea, secret bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth_hmacsha512',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when secret is null then 'key cannot be NULL' end,
                       case when length(secret) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_hmac('sha512', secret, message);
end
$fn$;
create function pgsodium.crypto_auth_hmacsha512(message bytea, secret bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_auth_hmacsha512(message, secret) $fn$;

create function pgsodium.crypto_auth_hmacsha512(message bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth_hmacsha512(message, pgsodium._standin_derive('pgsodium_crypto_auth_hmacsha512_by_id', key_id, 32, context))
$fn$;

create function pgsodium._standin_crypto_auth_hmacsha512_verify(hash bytea, message bytea, secret bytea) returns boolean
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth_hmacsha512_verify',
    array_remove(array[case when hash is null then 'hash cannot be NULL' end,
                       case when message is null then 'message cannot be NULL' end,
                       case when secret is null then 'key cannot be NULL' end,
                       case when length(hash) <> 64 then 'invalid hash' end,
                       case when length(secret) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_hmac('sha512', secret, message) = hash;
end
$fn$;
create function pgsodium.crypto_auth_hmacsha512_verify(hash bytea, message bytea, secret bytea) returns boolean
language sql immutable as $fn$ select pgsodium._standin_crypto_auth_hmacsha512_verify(hash, message, secret) $fn$;

create function pgsodium.crypto_auth_hmacsha512_verify(hash bytea, message bytea, key_id bigint,
                                                       context bytea default '\x7067736f6469756d')
returns boolean
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth_hmacsha512_verify(hash, message, pgsodium._standin_derive('pgsodium_crypto_auth_hmacsha512_verify_by_id', key_id, 32, context))
$fn$;

-- crypto_auth is HMAC-SHA-512-256 (HMAC-SHA-512 cut to 32 bytes): exact.
create function pgsodium._standin_crypto_auth(message bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return substring(pgsodium._standin_hmac('sha512', key, message) from 1 for 32);
end
$fn$;
create function pgsodium.crypto_auth(message bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_auth(message, key) $fn$;

create function pgsodium.crypto_auth(message bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth(message, pgsodium._standin_derive('pgsodium_crypto_auth_by_id', key_id, 32, context))
$fn$;

create function pgsodium._standin_crypto_auth_verify(mac bytea, message bytea, key bytea) returns boolean
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_auth_verify',
    array_remove(array[case when mac is null then 'signature cannot be NULL' end,
                       case when message is null then 'message cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(mac) <> 32 then 'invalid mac' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return substring(pgsodium._standin_hmac('sha512', key, message) from 1 for 32) = mac;
end
$fn$;
create function pgsodium.crypto_auth_verify(mac bytea, message bytea, key bytea) returns boolean
language sql immutable as $fn$ select pgsodium._standin_crypto_auth_verify(mac, message, key) $fn$;

create function pgsodium.crypto_auth_verify(mac bytea, message bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns boolean
language sql immutable as $fn$
  select pgsodium._standin_crypto_auth_verify(mac, message, pgsodium._standin_derive('pgsodium_crypto_auth_verify_by_id', key_id, 32, context))
$fn$;

-- BLAKE2b and SipHash are not in PostgreSQL: look-alikes of the same sizes (32 and 8 bytes).
create function pgsodium._standin_crypto_generichash(message bytea, key bytea default null) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_generichash',
    array_remove(array[case when message is null then 'data cannot be NULL' end,
                       case when length(key) < 16 or length(key) > 64 then 'invalid key' end], null));
  if key is null then
    return substring(pg_catalog.sha512(message) from 1 for 32);
  end if;
  return substring(pgsodium._standin_hmac('sha512', key, message) from 1 for 32);
end
$fn$;
create function pgsodium.crypto_generichash(message bytea, key bytea default null) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_generichash(message, key) $fn$;

create function pgsodium.crypto_generichash(message bytea, key bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_generichash(message, pgsodium._standin_derive('pgsodium_crypto_generichash_by_id', key, 32, context))
$fn$;

create function pgsodium._standin_crypto_shorthash(message bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_shorthash',
    array_remove(array[case when message is null then 'data cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(key) <> 16 then 'invalid key' end], null));
  return substring(pgsodium._standin_hmac('sha256', key, message) from 1 for 8);
end
$fn$;
create function pgsodium.crypto_shorthash(message bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_shorthash(message, key) $fn$;

create function pgsodium.crypto_shorthash(message bytea, key bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_shorthash(message, pgsodium._standin_derive('pgsodium_crypto_shorthash_by_id', key, 16, context))
$fn$;

create function pgsodium.crypto_kdf_derive_from_key(subkey_size bigint, subkey_id bigint, context bytea, primary_key bytea)
returns bytea
language plpgsql immutable as $fn$
declare
  bytes bytea := '';
begin
  perform pgsodium._standin_check('pgsodium_crypto_kdf_derive_from_key',
    array_remove(array[case when subkey_size is null then 'subkey size cannot be NULL' end,
                       case when subkey_id is null then 'subkey id cannot be NULL' end,
                       case when context is null then 'subkey context cannot be NULL' end,
                       case when primary_key is null then 'primary key cannot be NULL' end,
                       case when length(primary_key) <> 32 then 'invalid derivation key' end,
                       case when subkey_size < 16 or subkey_size > 64 then 'invalid key size requested' end,
                       case when length(context) <> 8 then 'context must be 8 bytes' end], null));
  bytes := pgsodium._standin_hmac('sha512', primary_key, int8send(subkey_id) || context);
  return substring(bytes from 1 for subkey_size::integer);
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Symmetric encryption look-alikes
-- ---------------------------------------------------------------------------------------------------------------

-- Deterministic AEAD (pgsodium's XChaCha20-SIV): key 32 bytes, optional nonce 16 bytes, output message + 16.
create function pgsodium._standin_crypto_aead_det_encrypt(message bytea, additional bytea, key bytea, nonce bytea default null)
returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_aead_det_encrypt',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid key' end,
                       case when length(nonce) <> 16 then 'invalid nonce' end], null));
  return pgsodium._standin_seal(message, additional, nonce, key);
end
$fn$;
create function pgsodium.crypto_aead_det_encrypt(message bytea, additional bytea, key bytea, nonce bytea default null)
returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_aead_det_encrypt(message, additional, key, nonce) $fn$;

create function pgsodium._standin_crypto_aead_det_decrypt(ciphertext bytea, additional bytea, key bytea, nonce bytea default null)
returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_aead_det_decrypt',
    array_remove(array[case when ciphertext is null then 'ciphertext cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid key' end,
                       case when length(nonce) <> 16 then 'invalid nonce' end], null));
  return pgsodium._standin_open('pgsodium_crypto_aead_det_decrypt', ciphertext, additional, nonce, key);
end
$fn$;
create function pgsodium.crypto_aead_det_decrypt(ciphertext bytea, additional bytea, key bytea, nonce bytea default null)
returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_aead_det_decrypt(ciphertext, additional, key, nonce) $fn$;

create function pgsodium.crypto_aead_det_encrypt(message bytea, additional bytea, key_id bigint,
                                                 context bytea default '\x7067736f6469756d', nonce bytea default null)
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_aead_det_encrypt(message, additional,
    pgsodium._standin_derive('pgsodium_crypto_aead_det_encrypt_by_id', key_id, 32, context), nonce)
$fn$;

create function pgsodium.crypto_aead_det_decrypt(message bytea, additional bytea, key_id bigint,
                                                 context bytea default '\x7067736f6469756d', nonce bytea default null)
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_aead_det_decrypt(message, additional,
    pgsodium._standin_derive('pgsodium_crypto_aead_det_decrypt_by_id', key_id, 32, context), nonce)
$fn$;

-- IETF ChaCha20-Poly1305: key 32 bytes, nonce 12 bytes.
create function pgsodium._standin_crypto_aead_ietf_encrypt(message bytea, additional bytea, nonce bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_aead_ietf_encrypt',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(nonce) <> 12 then 'invalid nonce' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_seal(message, additional, nonce, key);
end
$fn$;
create function pgsodium.crypto_aead_ietf_encrypt(message bytea, additional bytea, nonce bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_aead_ietf_encrypt(message, additional, nonce, key) $fn$;

create function pgsodium._standin_crypto_aead_ietf_decrypt(message bytea, additional bytea, nonce bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_aead_ietf_decrypt',
    array_remove(array[case when message is null then 'ciphertext cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(message) <= 16 then 'invalid message' end,
                       case when length(nonce) <> 12 then 'invalid nonce' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_open('pgsodium_crypto_aead_ietf_decrypt', message, additional, nonce, key);
end
$fn$;
create function pgsodium.crypto_aead_ietf_decrypt(message bytea, additional bytea, nonce bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_aead_ietf_decrypt(message, additional, nonce, key) $fn$;

create function pgsodium.crypto_aead_ietf_encrypt(message bytea, additional bytea, nonce bytea, key_id bigint,
                                                  context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_aead_ietf_encrypt(message, additional, nonce,
    pgsodium._standin_derive('pgsodium_crypto_aead_ietf_encrypt_by_id', key_id, 32, context))
$fn$;

create function pgsodium.crypto_aead_ietf_decrypt(message bytea, additional bytea, nonce bytea, key_id bigint,
                                                  context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_aead_ietf_decrypt(message, additional, nonce,
    pgsodium._standin_derive('pgsodium_crypto_aead_ietf_decrypt_by_id', key_id, 32, context))
$fn$;

-- secretbox (XSalsa20-Poly1305): key 32 bytes, nonce 24 bytes.
create function pgsodium._standin_crypto_secretbox(message bytea, nonce bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_secretbox',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(nonce) <> 24 then 'invalid nonce' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_seal(message, null, nonce, key);
end
$fn$;
create function pgsodium.crypto_secretbox(message bytea, nonce bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_secretbox(message, nonce, key) $fn$;

create function pgsodium._standin_crypto_secretbox_open(ciphertext bytea, nonce bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_secretbox_open',
    array_remove(array[case when ciphertext is null then 'message cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when key is null then 'key cannot be NULL' end,
                       case when length(ciphertext) <= 16 then 'invalid message' end,
                       case when length(nonce) <> 24 then 'invalid nonce' end,
                       case when length(key) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_open('pgsodium_crypto_secretbox_open', ciphertext, null, nonce, key);
end
$fn$;
create function pgsodium.crypto_secretbox_open(ciphertext bytea, nonce bytea, key bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_secretbox_open(ciphertext, nonce, key) $fn$;

create function pgsodium.crypto_secretbox(message bytea, nonce bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_secretbox(message, nonce, pgsodium._standin_derive('pgsodium_crypto_secretbox_by_id', key_id, 32, context))
$fn$;

create function pgsodium.crypto_secretbox_open(message bytea, nonce bytea, key_id bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_secretbox_open(message, nonce, pgsodium._standin_derive('pgsodium_crypto_secretbox_open_by_id', key_id, 32, context))
$fn$;

-- XChaCha20 stream: the key stream itself, or data XORed with it (from block ic for the _ic forms).
create function pgsodium._standin_crypto_stream_xchacha20(bigint, bytea, bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_stream_xchacha20',
    array_remove(array[case when $1 is null then 'size cannot be NULL' end,
                       case when $2 is null then 'nonce cannot be NULL' end,
                       case when $3 is null then 'key cannot be NULL' end,
                       case when length($2) <> 24 then 'invalid nonce' end,
                       case when length($3) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_stream($3, $2, $1);
end
$fn$;
create function pgsodium.crypto_stream_xchacha20(bigint, bytea, bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_stream_xchacha20($1, $2, $3) $fn$;

create function pgsodium.crypto_stream_xchacha20(bigint, bytea, bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_stream_xchacha20($1, $2, pgsodium._standin_derive('pgsodium_crypto_stream_xchacha20_by_id', $3, 32, context))
$fn$;

create function pgsodium._standin_crypto_stream_xchacha20_xor(bytea, bytea, bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_stream_xchacha20_xor',
    array_remove(array[case when $1 is null then 'data cannot be NULL' end,
                       case when $2 is null then 'nonce cannot be NULL' end,
                       case when $3 is null then 'key cannot be NULL' end,
                       case when length($2) <> 24 then 'invalid nonce' end,
                       case when length($3) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_xor($1, pgsodium._standin_stream($3, $2, length($1)));
end
$fn$;
create function pgsodium.crypto_stream_xchacha20_xor(bytea, bytea, bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_stream_xchacha20_xor($1, $2, $3) $fn$;

-- (pgsodium's default context here really is spelled 'pgosdium'.)
create function pgsodium.crypto_stream_xchacha20_xor(bytea, bytea, bigint, context bytea default '\x70676f736469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_stream_xchacha20_xor($1, $2, pgsodium._standin_derive('pgsodium_crypto_stream_xchacha20_xor_by_id', $3, 32, context))
$fn$;

create function pgsodium._standin_crypto_stream_xchacha20_xor_ic(bytea, bytea, bigint, bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_stream_xchacha20_xor_ic',
    array_remove(array[case when $1 is null then 'data cannot be NULL' end,
                       case when $2 is null then 'nonce cannot be NULL' end,
                       case when $3 is null then 'ic cannot be NULL' end,
                       case when $4 is null then 'key cannot be NULL' end,
                       case when length($2) <> 24 then 'invalid nonce' end,
                       case when length($4) <> 32 then 'invalid key' end], null));
  return pgsodium._standin_xor($1, pgsodium._standin_stream($4, $2, length($1), $3));
end
$fn$;
create function pgsodium.crypto_stream_xchacha20_xor_ic(bytea, bytea, bigint, bytea) returns bytea
language sql immutable as $fn$ select pgsodium._standin_crypto_stream_xchacha20_xor_ic($1, $2, $3, $4) $fn$;

create function pgsodium.crypto_stream_xchacha20_xor_ic(bytea, bytea, bigint, bigint, context bytea default '\x7067736f6469756d')
returns bytea
language sql immutable as $fn$
  select pgsodium._standin_crypto_stream_xchacha20_xor_ic($1, $2, $3, pgsodium._standin_derive('pgsodium_crypto_stream_xchacha20_xor_ic_by_id', $4, 32, context))
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Public-key look-alikes (box, sealed box, key exchange, signatures, signcryption)
-- ---------------------------------------------------------------------------------------------------------------

create function pgsodium.crypto_box_new_keypair() returns pgsodium.crypto_box_keypair
language sql volatile as $fn$
  select pgsodium.crypto_box_seed_new_keypair(pgsodium._standin_random(32))
$fn$;

create function pgsodium.crypto_box_seed_new_keypair(seed bytea) returns pgsodium.crypto_box_keypair
language plpgsql immutable as $fn$
declare
  secret bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_box_seed_keypair',
    array_remove(array[case when seed is null then 'seed cannot be NULL' end,
                       case when length(seed) <> 32 then 'invalid seed' end], null));
  secret := pg_catalog.sha256(seed);
  return row(pgsodium._standin_public(secret), secret)::pgsodium.crypto_box_keypair;
end
$fn$;

-- Sender's secret key and recipient's public key; the recipient opens with the reverse pair.
create function pgsodium.crypto_box(message bytea, nonce bytea, public bytea, secret bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_box',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when public is null then 'publickey cannot be NULL' end,
                       case when secret is null then 'secretkey cannot be NULL' end,
                       case when length(nonce) <> 24 then 'invalid nonce' end,
                       case when length(public) <> 32 then 'invalid public key' end,
                       case when length(secret) <> 32 then 'invalid secret key' end], null));
  return pgsodium._standin_seal(message, null, nonce, pgsodium._standin_shared(public, pgsodium._standin_public(secret)));
end
$fn$;

create function pgsodium.crypto_box_open(ciphertext bytea, nonce bytea, public bytea, secret bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_box_open',
    array_remove(array[case when ciphertext is null then 'message cannot be NULL' end,
                       case when nonce is null then 'nonce cannot be NULL' end,
                       case when public is null then 'publickey cannot be NULL' end,
                       case when secret is null then 'secretkey cannot be NULL' end,
                       case when length(nonce) <> 24 then 'invalid nonce' end,
                       case when length(public) <> 32 then 'invalid public key' end,
                       case when length(secret) <> 32 then 'invalid secret key' end,
                       case when length(ciphertext) <= 16 then 'invalid message' end], null));
  return pgsodium._standin_open('pgsodium_crypto_box_open', ciphertext, null, nonce,
                                pgsodium._standin_shared(public, pgsodium._standin_public(secret)));
end
$fn$;

-- Anonymous sender: an ephemeral public key travels in front (libsodium's size: message + 48).
-- (Declared immutable, as pgsodium declares it, although the ephemeral key makes every result different.)
create function pgsodium.crypto_box_seal(message bytea, public_key bytea) returns bytea
language plpgsql immutable as $fn$
declare
  ephemeral bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_box_seal',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when public_key is null then 'publickey cannot be NULL' end,
                       case when length(public_key) <> 32 then 'invalid public key' end], null));
  ephemeral := pgsodium._standin_public(pgsodium._standin_random(32));
  return ephemeral || pgsodium._standin_seal(message, null, substring(pg_catalog.sha256(ephemeral || public_key) from 1 for 24),
                                             pgsodium._standin_shared(ephemeral, public_key));
end
$fn$;

create function pgsodium.crypto_box_seal_open(ciphertext bytea, public_key bytea, secret_key bytea) returns bytea
language plpgsql immutable as $fn$
declare
  ephemeral bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_box_seal_open',
    array_remove(array[case when ciphertext is null then 'ciphertext cannot be NULL' end,
                       case when public_key is null then 'public_key cannot be NULL' end,
                       case when secret_key is null then 'secret_key cannot be NULL' end,
                       case when length(public_key) <> 32 then 'invalid public key' end,
                       case when length(secret_key) <> 32 then 'invalid secret key' end,
                       case when length(ciphertext) <= 48 then 'invalid message' end,
                       case when pgsodium._standin_public(secret_key) <> public_key then 'invalid message' end], null));
  ephemeral := substring(ciphertext from 1 for 32);
  return pgsodium._standin_open('pgsodium_crypto_box_seal_open', substring(ciphertext from 33), null,
                                substring(pg_catalog.sha256(ephemeral || public_key) from 1 for 24),
                                pgsodium._standin_shared(ephemeral, public_key));
end
$fn$;

create function pgsodium.crypto_kx_new_keypair() returns pgsodium.crypto_kx_keypair
language sql volatile as $fn$
  select pgsodium.crypto_kx_seed_new_keypair(pgsodium._standin_random(32))
$fn$;

create function pgsodium.crypto_kx_seed_new_keypair(seed bytea) returns pgsodium.crypto_kx_keypair
language plpgsql immutable strict as $fn$
declare
  secret bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_kx_seed_keypair',
    array_remove(array[case when length(seed) <> 32 then 'invalid seed' end], null));
  secret := pg_catalog.sha256(seed);
  return row(pgsodium._standin_public(secret), secret)::pgsodium.crypto_kx_keypair;
end
$fn$;

-- Session keys: what the client receives is what the server transmits, and the reverse.
create function pgsodium.crypto_kx_client_session_keys(client_pk bytea, client_sk bytea, server_pk bytea)
returns pgsodium.crypto_kx_session
language plpgsql volatile as $fn$
declare
  shared bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_kx_client_session_keys',
    array_remove(array[case when client_pk is null then 'client publickey cannot be NULL' end,
                       case when client_sk is null then 'client secretkey cannot be NULL' end,
                       case when server_pk is null then 'server publickey cannot be NULL' end,
                       case when length(client_pk) <> 32 then 'bad client public key' end,
                       case when length(client_sk) <> 32 then 'bad client secret key' end,
                       case when length(server_pk) <> 32 then 'bad server public key' end], null));
  shared := pgsodium._standin_shared(client_pk, server_pk);
  return row(pg_catalog.sha256(shared || '\x01'::bytea), pg_catalog.sha256(shared || '\x02'::bytea))::pgsodium.crypto_kx_session;
end
$fn$;

create function pgsodium.crypto_kx_server_session_keys(server_pk bytea, server_sk bytea, client_pk bytea)
returns pgsodium.crypto_kx_session
language plpgsql volatile as $fn$
declare
  shared bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_kx_server_session_keys',
    array_remove(array[case when server_pk is null then 'server publickey cannot be NULL' end,
                       case when server_sk is null then 'server secretkey cannot be NULL' end,
                       case when client_pk is null then 'client publickey cannot be NULL' end,
                       case when length(server_pk) <> 32 then 'bad server public key' end,
                       case when length(server_sk) <> 32 then 'bad server secret key' end,
                       case when length(client_pk) <> 32 then 'bad client public key' end], null));
  shared := pgsodium._standin_shared(client_pk, server_pk);
  return row(pg_catalog.sha256(shared || '\x02'::bytea), pg_catalog.sha256(shared || '\x01'::bytea))::pgsodium.crypto_kx_session;
end
$fn$;

-- Signatures: a secret key is seed || public key (64 bytes, as libsodium lays it out); a signature (64 bytes)
-- is a hash of the public key and the message, so it verifies with the public key alone (and anyone could
-- forge it: a look-alike).
create function pgsodium.crypto_sign_new_keypair() returns pgsodium.crypto_sign_keypair
language sql volatile as $fn$
  select pgsodium.crypto_sign_seed_new_keypair(pgsodium._standin_random(32))
$fn$;

create function pgsodium.crypto_sign_seed_new_keypair(seed bytea) returns pgsodium.crypto_sign_keypair
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_seed_keypair',
    array_remove(array[case when seed is null then 'seed cannot be NULL' end,
                       case when length(seed) <> 32 then 'invalid seed' end], null));
  return row(pgsodium._standin_public(seed), seed || pgsodium._standin_public(seed))::pgsodium.crypto_sign_keypair;
end
$fn$;

create function pgsodium.crypto_sign_detached(message bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_detached',
    array_remove(array[case when message is null then 'message cannot be NULL' end,
                       case when key is null then 'secretkey cannot be NULL' end,
                       case when length(key) <> 64 then 'invalid secret key' end], null));
  return pg_catalog.sha512(substring(key from 33) || message);
end
$fn$;

create function pgsodium.crypto_sign_verify_detached(sig bytea, message bytea, key bytea) returns boolean
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_verify_detached',
    array_remove(array[case when sig is null then 'signature cannot be NULL' end,
                       case when message is null then 'message cannot be NULL' end,
                       case when key is null then 'publickey cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid public key' end], null));
  return pg_catalog.sha512(key || message) = sig;
end
$fn$;

-- Combined form: signature || message.
create function pgsodium.crypto_sign(message bytea, key bytea) returns bytea
language sql immutable as $fn$
  select pgsodium.crypto_sign_detached(message, key) || message
$fn$;

create function pgsodium.crypto_sign_open(signed_message bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_open',
    array_remove(array[case when signed_message is null then 'message cannot be NULL' end,
                       case when key is null then 'publickey cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid public key' end,
                       case when length(signed_message) <= 64 then 'invalid message' end], null));
  if not pgsodium.crypto_sign_verify_detached(substring(signed_message from 1 for 64), substring(signed_message from 65), key) then
    raise exception 'pgsodium_crypto_sign_open: invalid message' using errcode = 'data_exception';
  end if;
  return substring(signed_message from 65);
end
$fn$;

-- Multi-part signing: the state is a running hash of the parts.
create function pgsodium.crypto_sign_init() returns bytea
language sql immutable strict as $fn$ select pg_catalog.sha512(''::bytea) $fn$;

create function pgsodium.crypto_sign_update(state bytea, message bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_update',
    array_remove(array[case when state is null then 'state cannot be NULL' end,
                       case when message is null then 'message part cannot be NULL' end], null));
  return pg_catalog.sha512(state || message);
end
$fn$;

create function pgsodium.crypto_sign_final_create(state bytea, key bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_final_create',
    array_remove(array[case when state is null then 'state cannot be NULL' end,
                       case when key is null then 'secretkey cannot be NULL' end,
                       case when length(key) <> 64 then 'invalid secret key' end], null));
  return pg_catalog.sha512(substring(key from 33) || state);
end
$fn$;

create function pgsodium.crypto_sign_final_verify(state bytea, signature bytea, key bytea) returns boolean
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_sign_final_verify',
    array_remove(array[case when state is null then 'state cannot be NULL' end,
                       case when signature is null then 'signature cannot be NULL' end,
                       case when key is null then 'publickey cannot be NULL' end,
                       case when length(key) <> 32 then 'invalid public key' end], null));
  return pg_catalog.sha512(key || state) = signature;
end
$fn$;

create function pgsodium.crypto_sign_update_agg1(state bytea, message bytea) returns bytea
language sql immutable as $fn$
  select pgsodium.crypto_sign_update(coalesce(state, pgsodium.crypto_sign_init()), message)
$fn$;

create function pgsodium.crypto_sign_update_agg2(cur_state bytea, initial_state bytea, message bytea) returns bytea
language sql immutable as $fn$
  select pgsodium.crypto_sign_update(coalesce(cur_state, initial_state), message)
$fn$;

-- Aggregates over the parts of a message, in the order given.
create aggregate pgsodium.crypto_sign_update_agg(message bytea) (sfunc = pgsodium.crypto_sign_update_agg1, stype = bytea);
create aggregate pgsodium.crypto_sign_update_agg(state bytea, message bytea) (sfunc = pgsodium.crypto_sign_update_agg2, stype = bytea);

-- Signcryption: the state binds sender, recipient and associated data; the shared key also the recipient's key.
create function pgsodium.crypto_signcrypt_new_keypair() returns pgsodium.crypto_signcrypt_keypair
language plpgsql volatile as $fn$
declare
  secret bytea := pgsodium._standin_random(32);
begin
  return row(pgsodium._standin_public(secret), secret)::pgsodium.crypto_signcrypt_keypair;
end
$fn$;

create function pgsodium.crypto_signcrypt_sign_before(sender bytea, recipient bytea, sender_sk bytea, recipient_pk bytea,
                                                      additional bytea)
returns pgsodium.crypto_signcrypt_state_key
language plpgsql volatile as $fn$
declare
  state bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_signcrypt_sign_before',
    array_remove(array[case when sender is null then 'sender cannot be NULL' end,
                       case when recipient is null then 'recipient cannot be NULL' end,
                       case when sender_sk is null then 'sender secretkey cannot be NULL' end,
                       case when recipient_pk is null then 'recipient publickey cannot be NULL' end,
                       case when additional is null then 'associated cannot be NULL' end], null));
  state := pg_catalog.sha512(pg_catalog.sha256(sender) || pg_catalog.sha256(recipient) || pg_catalog.sha256(additional)
                             || pgsodium._standin_public(sender_sk));
  return row(state, pg_catalog.sha256(state || pgsodium._standin_shared(pgsodium._standin_public(sender_sk), recipient_pk)))::pgsodium.crypto_signcrypt_state_key;
end
$fn$;

create function pgsodium.crypto_signcrypt_sign_after(state bytea, sender_sk bytea, ciphertext bytea) returns bytea
language plpgsql volatile as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_signcrypt_sign_after',
    array_remove(array[case when state is null then 'state cannot be NULL' end,
                       case when sender_sk is null then 'sender secretkey cannot be NULL' end,
                       case when ciphertext is null then 'ciphertext cannot be NULL' end], null));
  return pg_catalog.sha512(state || pgsodium._standin_public(sender_sk) || ciphertext);
end
$fn$;

create function pgsodium.crypto_signcrypt_verify_before(signature bytea, sender bytea, recipient bytea, additional bytea,
                                                        sender_pk bytea, recipient_sk bytea)
returns pgsodium.crypto_signcrypt_state_key
language plpgsql volatile as $fn$
declare
  state bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_signcrypt_verify_before',
    array_remove(array[case when signature is null then 'signature cannot be NULL' end,
                       case when sender is null then 'sender cannot be NULL' end,
                       case when recipient is null then 'recipient cannot be NULL' end,
                       case when additional is null then 'associated cannot be NULL' end,
                       case when sender_pk is null then 'sender publickey cannot be NULL' end,
                       case when recipient_sk is null then 'recipient secretkey cannot be NULL' end], null));
  state := pg_catalog.sha512(pg_catalog.sha256(sender) || pg_catalog.sha256(recipient) || pg_catalog.sha256(additional) || sender_pk);
  return row(state, pg_catalog.sha256(state || pgsodium._standin_shared(sender_pk, pgsodium._standin_public(recipient_sk))))::pgsodium.crypto_signcrypt_state_key;
end
$fn$;

create function pgsodium.crypto_signcrypt_verify_after(state bytea, signature bytea, sender_pk bytea, ciphertext bytea)
returns boolean
language plpgsql volatile as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_signcrypt_verify_after',
    array_remove(array[case when state is null then 'state cannot be NULL' end,
                       case when signature is null then 'signature cannot be NULL' end,
                       case when sender_pk is null then 'sender publickey cannot be NULL' end,
                       case when ciphertext is null then 'ciphertext cannot be NULL' end], null));
  if pg_catalog.sha512(state || sender_pk || ciphertext) <> signature then
    raise exception 'pgsodium_crypto_signcrypt_verify_after: verify_after failed' using errcode = 'data_exception';
  end if;
  return true;
end
$fn$;

create function pgsodium.crypto_signcrypt_verify_public(signature bytea, sender bytea, recipient bytea, additional bytea,
                                                        sender_pk bytea, ciphertext bytea)
returns boolean
language plpgsql volatile as $fn$
declare
  state bytea;
begin
  perform pgsodium._standin_check('pgsodium_crypto_signcrypt_verify_public',
    array_remove(array[case when signature is null then 'signature cannot be NULL' end,
                       case when sender is null then 'sender cannot be NULL' end,
                       case when recipient is null then 'recipient cannot be NULL' end,
                       case when additional is null then 'associated cannot be NULL' end,
                       case when sender_pk is null then 'sender publickey cannot be NULL' end,
                       case when ciphertext is null then 'ciphertext cannot be NULL' end], null));
  state := pg_catalog.sha512(pg_catalog.sha256(sender) || pg_catalog.sha256(recipient) || pg_catalog.sha256(additional) || sender_pk);
  if pg_catalog.sha512(state || sender_pk || ciphertext) <> signature then
    raise exception 'pgsodium_crypto_signcrypt_verify_public: verify_public failed' using errcode = 'data_exception';
  end if;
  return true;
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Password hashing look-alikes (Argon2id in libsodium)
-- ---------------------------------------------------------------------------------------------------------------

create function pgsodium.crypto_pwhash(password bytea, salt bytea) returns bytea
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_crypto_pwhash',
    array_remove(array[case when password is null then 'data cannot be NULL' end,
                       case when salt is null then 'salt cannot be NULL' end,
                       case when length(salt) <> 16 then 'invalid salt' end], null));
  return pgsodium._standin_hmac('sha256', salt, password);
end
$fn$;

-- A self-describing string, like libsodium's "$argon2id$..." (with a stand-in tag).
create function pgsodium.crypto_pwhash_str(password bytea) returns bytea
language plpgsql volatile as $fn$
declare
  salt bytea := pgsodium._standin_random(16);
begin
  perform pgsodium._standin_check('pgsodium_crypto_pwhash_str',
    array_remove(array[case when password is null then 'password cannot be NULL' end], null));
  return convert_to('$standin-sha256$' || encode(salt, 'hex') || '$'
                    || encode(pgsodium._standin_hmac('sha256', salt, password), 'hex'), 'UTF8');
end
$fn$;

create function pgsodium.crypto_pwhash_str_verify(hashed_password bytea, password bytea) returns boolean
language plpgsql immutable as $fn$
declare
  parts text[];
begin
  perform pgsodium._standin_check('pgsodium_crypto_pwhash_str_verify',
    array_remove(array[case when hashed_password is null then 'hashed password cannot be NULL' end,
                       case when password is null then 'password cannot be NULL' end], null));
  parts := regexp_match(convert_from(hashed_password, 'UTF8'), '^\$standin-sha256\$([0-9a-f]{32})\$([0-9a-f]{64})$');
  return parts is not null
         and pgsodium._standin_hmac('sha256', decode(parts[1], 'hex'), password) = decode(parts[2], 'hex');
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Helpers pgsodium exports
-- ---------------------------------------------------------------------------------------------------------------

-- Constant-time comparison in libsodium; equality here.
create function pgsodium.crypto_cmp(text, text) returns boolean
language sql immutable strict as $fn$ select $1 = $2 $fn$;

-- libsodium's URL-safe base64 without padding.
create function pgsodium.sodium_bin2base64(bin bytea) returns text
language plpgsql immutable as $fn$
begin
  perform pgsodium._standin_check('pgsodium_sodium_bin2base64',
    array_remove(array[case when bin is null then 'bin cannot be NULL' end], null));
  return rtrim(translate(encode(bin, 'base64'), E'+/\n', '-_'), '=');
end
$fn$;

create function pgsodium.sodium_base642bin(base64 text) returns bytea
language plpgsql immutable as $fn$
declare
  padded text;
begin
  perform pgsodium._standin_check('pgsodium_sodium_base642bin',
    array_remove(array[case when base64 is null then 'base64 cannot be NULL' end,
                       case when base64 !~ '^[A-Za-z0-9_-]*$' or length(base64) % 4 = 1 then 'sodium_base642bin() failed' end], null));
  padded := translate(base64, '-_', '+/');
  return decode(padded || repeat('=', (4 - length(padded) % 4) % 4), 'base64');
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Functions taking a key's uuid: the key must be valid and of the function's type; a raw key is used as is,
-- a derived one by its id and context. They run as pgsodium_keymaker, who may read decrypted_key.
-- ---------------------------------------------------------------------------------------------------------------

create function pgsodium.crypto_aead_det_encrypt(message bytea, additional bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-det');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_det_encrypt(message, additional, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_aead_det_encrypt(message, additional, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_aead_det_decrypt(message bytea, additional bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-det');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_det_decrypt(message, additional, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_aead_det_decrypt(message, additional, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_aead_det_encrypt(message bytea, additional bytea, key_uuid uuid, nonce bytea) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-det');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_det_encrypt(message, additional, k.decrypted_raw_key, nonce);
  end if;
  return pgsodium.crypto_aead_det_encrypt(message, additional, k.key_id, k.key_context, nonce);
end
$fn$;

create function pgsodium.crypto_aead_det_decrypt(message bytea, additional bytea, key_uuid uuid, nonce bytea) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-det');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_det_decrypt(message, additional, k.decrypted_raw_key, nonce);
  end if;
  return pgsodium.crypto_aead_det_decrypt(message, additional, k.key_id, k.key_context, nonce);
end
$fn$;

create function pgsodium.crypto_aead_ietf_encrypt(message bytea, additional bytea, nonce bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-ietf');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_ietf_encrypt(message, additional, nonce, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_aead_ietf_encrypt(message, additional, nonce, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_aead_ietf_decrypt(message bytea, additional bytea, nonce bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'aead-ietf');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_aead_ietf_decrypt(message, additional, nonce, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_aead_ietf_decrypt(message, additional, nonce, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth(message bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'auth');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth(message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth(message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth_verify(mac bytea, message bytea, key_uuid uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'auth');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth_verify(mac, message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth_verify(mac, message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth_hmacsha256(message bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'hmacsha256');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth_hmacsha256(message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth_hmacsha256(message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth_hmacsha256_verify(signature bytea, message bytea, key_uuid uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'hmacsha256');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth_hmacsha256_verify(signature, message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth_hmacsha256_verify(signature, message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth_hmacsha512(message bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'hmacsha512');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth_hmacsha512(message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth_hmacsha512(message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_auth_hmacsha512_verify(signature bytea, message bytea, key_uuid uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'hmacsha512');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_auth_hmacsha512_verify(signature, message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_auth_hmacsha512_verify(signature, message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_generichash(message bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'generichash');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_generichash(message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_generichash(message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_shorthash(message bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'shorthash');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_shorthash(message, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_shorthash(message, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_kdf_derive_from_key(subkey_size integer, subkey_id bigint, context bytea, primary_key uuid)
returns bytea
language plpgsql stable strict security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(primary_key, 'kdf');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_kdf_derive_from_key(subkey_size::bigint, subkey_id, context, k.decrypted_raw_key);
  end if;
  return pgsodium.derive_key(k.key_id, subkey_size, k.key_context);
end
$fn$;

create function pgsodium.crypto_secretbox(message bytea, nonce bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'secretbox');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_secretbox(message, nonce, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_secretbox(message, nonce, k.key_id, k.key_context);
end
$fn$;

create function pgsodium.crypto_secretbox_open(message bytea, nonce bytea, key_uuid uuid) returns bytea
language plpgsql stable security definer set search_path = '' as $fn$
declare
  k record := pgsodium._standin_key(key_uuid, 'secretbox');
begin
  if k.decrypted_raw_key is not null then
    return pgsodium.crypto_secretbox_open(message, nonce, k.decrypted_raw_key);
  end if;
  return pgsodium.crypto_secretbox_open(message, nonce, k.key_id, k.key_context);
end
$fn$;

-- Raw keys decrypted with their parent key (raw_key is stored encrypted by the trigger below).
create view pgsodium.decrypted_key as
  select id, status, created, expires, key_type, key_id, key_context, name, associated_data, raw_key,
         case when raw_key is null or parent_key is null then null
              else pgsodium.crypto_aead_det_decrypt(raw_key, convert_to(id::text || associated_data, 'utf8'),
                                                    parent_key, raw_key_nonce)
         end as decrypted_raw_key,
         raw_key_nonce, parent_key, comment
  from pgsodium.key;

-- ---------------------------------------------------------------------------------------------------------------
-- Transparent column encryption (security labels): the catalog side only. No label for provider pgsodium can
-- exist here, so the rules below are always empty and nothing is ever generated.
-- ---------------------------------------------------------------------------------------------------------------

-- The encryption rules read from column labels ("ENCRYPT WITH KEY ID <uuid> | KEY COLUMN <col> [ASSOCIATED
-- (<cols>)] [NONCE <col>]") and the table label ("DECRYPT WITH VIEW <schema.view>", "SECURITY INVOKER").
create view pgsodium.masking_rule as
  select distinct on (sl.objoid, sl.objsubid)
         sl.objoid as attrelid,
         sl.objsubid as attnum,
         c.relnamespace::regnamespace as relnamespace,
         c.relname,
         a.attname,
         format_type(a.atttypid, a.atttypmod) as format_type,
         sl.label as col_description,
         (regexp_match(sl.label, 'encrypt +with +key +column +([\w\"\-$]+)', 'i'))[1] as key_id_column,
         (regexp_match(sl.label, 'encrypt +with +key +id +([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})', 'i'))[1] as key_id,
         (regexp_match(sl.label, 'associated +\(([\w\"\-$, ]+)\)', 'i'))[1] as associated_columns,
         (regexp_match(sl.label, 'nonce +([\w\"\-$]+)', 'i'))[1] as nonce_column,
         coalesce((regexp_match(tl.label, 'decrypt with view +([\w\"\-$]+\.[\w\"\-$]+)', 'i'))[1],
                  c.relnamespace::regnamespace::text || '.' || quote_ident('decrypted_' || c.relname)) as view_name,
         100 as priority,
         coalesce(tl.label ~* 'security invoker', false) as security_invoker
  from pg_seclabel sl
  join pg_class c on c.oid = sl.objoid and sl.classoid = 'pg_class'::regclass
  join pg_attribute a on a.attrelid = c.oid and a.attnum = sl.objsubid
  left join pg_seclabel tl on tl.objoid = c.oid and tl.objsubid = 0 and tl.provider = 'pgsodium'
  where sl.provider = 'pgsodium' and sl.label ilike 'ENCRYPT%' and a.attnum > 0 and not a.attisdropped
    and c.relnamespace <> 'pg_catalog'::regnamespace
  order by sl.objoid, sl.objsubid;

create view pgsodium.mask_columns as
  select a.attname, a.attrelid, m.key_id, m.key_id_column, m.associated_columns, m.nonce_column, m.format_type
  from pg_attribute a
  left join pgsodium.masking_rule m on m.attrelid = a.attrelid and m.attname = a.attname
  where a.attnum > 0 and not a.attisdropped
  order by a.attnum;

create function pgsodium.mask_columns(source_relid oid)
returns table (attname name, key_id text, key_id_column text, associated_column text, nonce_column text, format_type text)
language sql as $fn$
  select a.attname, m.key_id, m.key_id_column, m.associated_columns, m.nonce_column, m.format_type
  from pg_catalog.pg_attribute a
  left join pgsodium.masking_rule m on m.attrelid = a.attrelid and m.attname = a.attname
  where a.attrelid = source_relid and a.attnum > 0 and not a.attisdropped
  order by a.attnum
$fn$;

-- "a, b" -> "a::text || b::text" (columns of the new row with prefix).
create function pgsodium.quote_assoc(text, boolean default false) returns text
language sql as $fn$
  select string_agg(case when $2 then 'new.' else '' end || quote_ident(trim(c)) || '::text', ' || ' order by n)
  from regexp_split_to_table($1, '\s*,\s*') with ordinality as t(c, n)
$fn$;

create function pgsodium.has_mask(role regrole, source_name text) returns boolean
language sql as $fn$
  select exists (select 1 from pg_catalog.pg_shseclabel
                 where objoid = role and provider = 'pgsodium' and label ilike 'ACCESS%' || source_name || '%')
$fn$;

-- The select list of a masking view: every column as is (no column is ever encrypted here).
create function pgsodium.decrypted_columns(relid oid) returns text
language plpgsql set search_path = '' as $fn$
begin
  return E'\n' || (select string_agg('        ' || quote_ident(m.attname), E',\n' order by a.attnum)
                   from pgsodium.mask_columns m
                   join pg_catalog.pg_attribute a on a.attrelid = m.attrelid and a.attname = m.attname
                   where m.attrelid = relid);
end
$fn$;

-- The encrypting assignments of a masking trigger: none (no column is ever encrypted here).
create function pgsodium.encrypted_columns(relid oid) returns text
language plpgsql set search_path = '' as $fn$
begin
  return '';
end
$fn$;

create function pgsodium.encrypted_column(relid oid, m record) returns text
language plpgsql set search_path = '' as $fn$
begin
  raise exception 'pgsodium stand-in: transparent column encryption is not reproduced' using errcode = 'feature_not_supported';
end
$fn$;

create function pgsodium.create_mask_view(relid oid, debug boolean default false) returns void
language plpgsql set search_path = pg_catalog as $fn$
begin
  raise exception 'pgsodium stand-in: transparent column encryption is not reproduced' using errcode = 'feature_not_supported';
end
$fn$;

create function pgsodium.create_mask_view(relid oid, subid integer, debug boolean default false) returns void
language plpgsql set search_path = pg_catalog as $fn$
begin
  raise exception 'pgsodium stand-in: transparent column encryption is not reproduced' using errcode = 'feature_not_supported';
end
$fn$;

-- Regenerates the masks of a labelled table; there are none here.
create function pgsodium.update_mask(target oid, debug boolean default false) returns void
language plpgsql security definer set search_path = '' as $fn$
begin
  perform pgsodium.disable_security_label_trigger();
  perform pgsodium.create_mask_view(sl.objoid, sl.objsubid, debug)
  from pg_catalog.pg_seclabel sl
  where sl.objoid = target and sl.label ilike 'ENCRYPT%' and sl.provider = 'pgsodium';
  perform pgsodium.enable_security_label_trigger();
end
$fn$;

create function pgsodium.update_masks(debug boolean default false) returns void
language plpgsql set search_path = '' as $fn$
begin
  perform pgsodium.update_mask(sl.objoid, debug)
  from pg_catalog.pg_seclabel sl
  join pg_catalog.pg_class c on c.oid = sl.objoid
  where sl.label ilike 'ENCRYPT%' and sl.provider = 'pgsodium' and c.relowner = session_user::regrole::oid
    and sl.objoid <> 'pgsodium.key'::regclass;
end
$fn$;

-- The platform's version (its after-create script): a masked role may read keys and the view.
create function pgsodium.mask_role(masked_role regrole, source_name text, view_name text) returns void
language plpgsql security definer set search_path = '' as $fn$
begin
  execute format('GRANT SELECT ON pgsodium.key TO %s', masked_role);
  execute format('GRANT pgsodium_keyiduser, pgsodium_keyholder TO %s', masked_role);
  execute format('GRANT ALL ON %s TO %s', view_name, masked_role);
end
$fn$;

-- Masks are regenerated after SECURITY LABEL and ALTER TABLE on a labelled table.
create function pgsodium.trg_mask_update() returns event_trigger
language plpgsql set search_path = '' as $fn$
declare
  r record;
begin
  if (select bool_or(in_extension) from pg_catalog.pg_event_trigger_ddl_commands()) then
    return;
  end if;
  for r in select e.objid, e.object_type
           from pg_catalog.pg_event_trigger_ddl_commands() e
           where exists (select 1 from pg_catalog.pg_seclabel s
                         where s.classoid = e.classid and s.objoid = e.objid and s.provider = 'pgsodium')
  loop
    if r.object_type in ('table', 'table column') then
      perform pgsodium.update_mask(r.objid);
    end if;
  end loop;
end
$fn$;

create event trigger pgsodium_trg_mask_update on ddl_command_end
  when tag in ('SECURITY LABEL', 'ALTER TABLE')
  execute function pgsodium.trg_mask_update();

create function pgsodium.enable_security_label_trigger() returns void
language sql security definer set search_path = '' as $fn$
  alter event trigger pgsodium_trg_mask_update enable;
$fn$;

create function pgsodium.disable_security_label_trigger() returns void
language sql security definer set search_path = '' as $fn$
  alter event trigger pgsodium_trg_mask_update disable;
$fn$;

-- ---------------------------------------------------------------------------------------------------------------
-- Owners and grants, as pgsodium 3.1.8 (and the platform) set them
-- ---------------------------------------------------------------------------------------------------------------

grant all on pgsodium.key to pgsodium_keymaker;
grant usage, select, update on sequence pgsodium.key_key_id_seq to pgsodium_keymaker;
grant all on pgsodium.valid_key, pgsodium.decrypted_key, pgsodium.masking_rule, pgsodium.mask_columns to pgsodium_keyholder;
grant select on pgsodium.valid_key to pgsodium_keyiduser;

-- Keys by id are for key id users; the building block deriving them follows.
revoke all on function pgsodium._standin_derive(text, bigint, integer, bytea) from public;
grant execute on function pgsodium._standin_derive(text, bigint, integer, bytea) to pgsodium_keyiduser;

-- pgsodium keeps most functions from PUBLIC and hands them to its roles: raw keys to key holders, keys by id
-- to key id users, key generation to key makers.
revoke all on function pgsodium.randombytes_random() from public;
revoke all on function pgsodium.randombytes_uniform(integer) from public;
revoke all on function pgsodium.randombytes_buf(integer) from public;
revoke all on function pgsodium.crypto_secretbox_keygen() from public;
revoke all on function pgsodium.crypto_secretbox_noncegen() from public;
revoke all on function pgsodium.crypto_secretbox(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_secretbox_open(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_auth(bytea,bytea) from public;
revoke all on function pgsodium.crypto_auth_verify(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_auth_keygen() from public;
revoke all on function pgsodium.crypto_generichash(bytea,bytea) from public;
revoke all on function pgsodium.crypto_shorthash(bytea,bytea) from public;
revoke all on function pgsodium.crypto_box_noncegen() from public;
revoke all on function pgsodium.crypto_box(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_box_open(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_kdf_keygen() from public;
revoke all on function pgsodium.crypto_kx_new_keypair() from public;
revoke all on function pgsodium.crypto_kx_new_seed() from public;
revoke all on function pgsodium.crypto_kx_seed_new_keypair(bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512(bytea,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,bytea) from public;
revoke all on function pgsodium.randombytes_new_seed() from public;
revoke all on function pgsodium.randombytes_buf_deterministic(integer,bytea) from public;
revoke all on function pgsodium.crypto_sign_init() from public;
revoke all on function pgsodium.crypto_sign_update(bytea,bytea) from public;
revoke all on function pgsodium.crypto_sign_final_create(bytea,bytea) from public;
revoke all on function pgsodium.crypto_sign_final_verify(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_sign_update_agg1(bytea,bytea) from public;
revoke all on function pgsodium.crypto_sign_update_agg2(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_box_new_keypair() from public;
revoke all on function pgsodium.crypto_sign_new_keypair() from public;
revoke all on function pgsodium.crypto_box_seed_new_keypair(bytea) from public;
revoke all on function pgsodium.pgsodium_derive(bigint,integer,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256_keygen() from public;
revoke all on function pgsodium.crypto_auth_hmacsha256(bytea,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_kdf_derive_from_key(bigint,bigint,bytea,bytea) from public;
revoke all on function pgsodium.derive_key(bigint,integer,bytea) from public;
revoke all on function pgsodium.crypto_shorthash_keygen() from public;
revoke all on function pgsodium.crypto_generichash_keygen() from public;
revoke all on function pgsodium.crypto_secretbox(bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_secretbox_open(bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth(bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth_verify(bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_aead_ietf_keygen() from public;
revoke all on function pgsodium.crypto_aead_ietf_noncegen() from public;
revoke all on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512(bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256(bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,bigint,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_keygen() from public;
revoke all on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,bigint,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,bigint,bytea,bytea) from public;
revoke all on function pgsodium.crypto_signcrypt_new_keypair() from public;
revoke all on function pgsodium.crypto_signcrypt_sign_before(bytea,bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_signcrypt_sign_after(bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_signcrypt_verify_before(bytea,bytea,bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_signcrypt_verify_after(bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_signcrypt_verify_public(bytea,bytea,bytea,bytea,bytea,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid,bytea) from public;
revoke all on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid,bytea) from public;
revoke all on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256(bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512(bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth(bytea,uuid) from public;
revoke all on function pgsodium.crypto_auth_verify(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_shorthash(bytea,uuid) from public;
revoke all on function pgsodium.crypto_generichash(bytea,uuid) from public;
revoke all on function pgsodium.crypto_kdf_derive_from_key(integer,bigint,bytea,uuid) from public;
revoke all on function pgsodium.crypto_secretbox(bytea,bytea,uuid) from public;
revoke all on function pgsodium.crypto_secretbox_open(bytea,bytea,uuid) from public;
grant execute on function pgsodium.crypto_secretbox(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_secretbox_open(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth_verify(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_box(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_box_open(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth_hmacsha512(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_init() to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_update(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_final_create(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_final_verify(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_update_agg1(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_sign_update_agg2(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth_hmacsha256(bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_signcrypt_sign_before(bytea,bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_signcrypt_sign_after(bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_signcrypt_verify_before(bytea,bytea,bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_signcrypt_verify_after(bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.crypto_signcrypt_verify_public(bytea,bytea,bytea,bytea,bytea,bytea) to pgsodium_keyholder;
grant execute on function pgsodium.randombytes_random() to pgsodium_keyiduser;
grant execute on function pgsodium.randombytes_uniform(integer) to pgsodium_keyiduser;
grant execute on function pgsodium.randombytes_buf(integer) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox_noncegen() to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_generichash(bytea,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_shorthash(bytea,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.randombytes_buf_deterministic(integer,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox(bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox_open(bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth(bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_verify(bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_ietf_noncegen() to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha512(bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha256(bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,bigint,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,bigint,bytea,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,bigint,bytea,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_noncegen() to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid,bytea) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.create_key(pgsodium.key_type,text,bytea,bytea,uuid,bytea,timestamp with time zone,text) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha256(bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha512(bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth(bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_auth_verify(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_shorthash(bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_generichash(bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_kdf_derive_from_key(integer,bigint,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox_open(bytea,bytea,uuid) to pgsodium_keyiduser;
grant execute on function pgsodium.crypto_secretbox_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_auth_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_box_noncegen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_kdf_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_kx_new_keypair() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_kx_new_seed() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_kx_seed_new_keypair(bytea) to pgsodium_keymaker;
grant execute on function pgsodium.randombytes_new_seed() to pgsodium_keymaker;
grant execute on function pgsodium.randombytes_buf_deterministic(integer,bytea) to pgsodium_keymaker;
grant execute on function pgsodium.crypto_box_new_keypair() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_sign_new_keypair() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_box_seed_new_keypair(bytea) to pgsodium_keymaker;
grant execute on function pgsodium.pgsodium_derive(bigint,integer,bytea) to pgsodium_keymaker;
grant execute on function pgsodium.crypto_auth_hmacsha256_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_kdf_derive_from_key(bigint,bigint,bytea,bytea) to pgsodium_keymaker;
grant execute on function pgsodium.derive_key(bigint,integer,bytea) to pgsodium_keymaker;
grant execute on function pgsodium.crypto_shorthash_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_generichash_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_aead_ietf_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_aead_det_keygen() to pgsodium_keymaker;
grant execute on function pgsodium.crypto_signcrypt_new_keypair() to pgsodium_keymaker;
-- The functions taking a key's uuid (and create_key) run as pgsodium_keymaker.
alter function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_aead_det_encrypt(bytea,bytea,uuid,bytea) owner to pgsodium_keymaker;
alter function pgsodium.crypto_aead_det_decrypt(bytea,bytea,uuid,bytea) owner to pgsodium_keymaker;
alter function pgsodium.crypto_aead_ietf_encrypt(bytea,bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_aead_ietf_decrypt(bytea,bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.create_key(pgsodium.key_type,text,bytea,bytea,uuid,bytea,timestamp with time zone,text) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth_hmacsha256(bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth_hmacsha256_verify(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth_hmacsha512(bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth_hmacsha512_verify(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth(bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_auth_verify(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_shorthash(bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_generichash(bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_kdf_derive_from_key(integer,bigint,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_secretbox(bytea,bytea,uuid) owner to pgsodium_keymaker;
alter function pgsodium.crypto_secretbox_open(bytea,bytea,uuid) owner to pgsodium_keymaker;

-- What the platform adds when it creates pgsodium: service_role may use the deterministic AEAD by key uuid and
-- generate keys; postgres administers the three roles.
do $platform$
begin
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
    grant execute on function pgsodium.crypto_aead_det_decrypt(bytea, bytea, uuid, bytea) to service_role;
    grant execute on function pgsodium.crypto_aead_det_encrypt(bytea, bytea, uuid, bytea) to service_role;
    grant execute on function pgsodium.crypto_aead_det_keygen() to service_role;
  end if;
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'postgres') and current_user <> 'postgres' then
    grant pgsodium_keyiduser to postgres with admin option;
    grant pgsodium_keyholder to postgres with admin option;
    grant pgsodium_keymaker to postgres with admin option;
  end if;
end
$platform$;
