-- Stand-in for pg_cron 1.6.4 (citusdata/pg_cron, as the Supabase platform installs it), written in SQL and PL/pgSQL.
--
-- Reproduced: schema cron with cron.job, cron.job_run_details, their sequences, row security and grants; the
-- functions schedule (2 and 3 arguments), schedule_in_database, unschedule (by id and by name), alter_job and the
-- cache-invalidation trigger, with pg_cron's argument names, defaults, strictness and error messages. Schedules are
-- checked the way pg_cron 1.6 parses them: five cron fields (numbers, names, ranges, lists, steps, `$` for the
-- last day of the month), the @-macros, or '[1-59] seconds'.
-- Not reproduced: nothing ever runs. There is no background worker, so jobs stay in cron.job and
-- cron.job_run_details stays empty; cron.database_name and the other GUCs are only read, never enforced.
\echo Use "CREATE EXTENSION pg_cron" to load this file. \quit

create schema cron;

create sequence cron.jobid_seq;
create sequence cron.runid_seq;

create table cron.job (
  jobid bigint primary key default pg_catalog.nextval('cron.jobid_seq'),
  schedule text not null,
  command text not null,
  nodename text not null default 'localhost',
  nodeport integer not null default pg_catalog.inet_server_port(),
  database text not null default pg_catalog.current_database(),
  username text not null default current_user,
  active boolean not null default true,
  jobname text,
  constraint jobname_username_uniq unique (jobname, username)
);

create table cron.job_run_details (
  jobid bigint,
  runid bigint primary key default pg_catalog.nextval('cron.runid_seq'),
  job_pid integer,
  database text,
  username text,
  command text,
  status text,
  return_message text,
  start_time timestamptz,
  end_time timestamptz
);

-- Everyone sees (and may clear the history of) their own jobs only, as with pg_cron.
alter table cron.job enable row level security;
create policy cron_job_policy on cron.job using (username operator(pg_catalog.=) current_user);
alter table cron.job_run_details enable row level security;
create policy cron_job_run_details_policy on cron.job_run_details using (username operator(pg_catalog.=) current_user);
grant select on cron.job to public;
grant select, delete on cron.job_run_details to public;
grant select on sequence cron.jobid_seq, cron.runid_seq to public;

-- pg_dump keeps the jobs (and their ids) of an extension it does not otherwise dump.
select pg_catalog.pg_extension_config_dump('cron.job', '');
select pg_catalog.pg_extension_config_dump('cron.jobid_seq', '');
select pg_catalog.pg_extension_config_dump('cron.job_run_details', '');
select pg_catalog.pg_extension_config_dump('cron.runid_seq', '');

-- Whether pg_cron 1.6 accepts a schedule: first as a crontab entry, then as an interval in seconds. The crontab
-- part follows the parser pg_cron inherited from Vixie cron character by character, including its leniencies
-- (a field may be followed by junk up to the next blank; text after the fifth field is ignored).
create function cron._standin_valid_schedule(schedule text) returns boolean
language plpgsql immutable strict set search_path = pg_catalog, pg_temp as $fn$
declare
  -- Characters as code points; 0 is the end of the text and -1 reading past it, as in pg_cron's buffer.
  codes int[] := coalesce((select array_agg(ascii(c) order by i)
                           from unnest(string_to_array(schedule, null)) with ordinality as t(c, i)), '{}');
  n int := length(schedule);
  pos int := 1;
  ch int;
  field int;
  lo int;
  hi int;
  names text[];
  num1 int;
  num2 int;
  num3 int;
  word text;
  done boolean;
  digits boolean;
  v numeric;
  lowered text;
  i int;
begin
  -- A crontab entry longer than pg_cron's buffer is refused before parsing.
  if n < 1000 then
    -- Skip blank lines and comment lines, stopping at the first useful character.
    loop
      ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
      exit when ch = -1;
      while ch in (32, 9) loop
        ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
      end loop;
      exit when ch = -1 or (ch <> 10 and ch <> 35);
      while ch <> 10 and ch <> -1 loop
        ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
      end loop;
    end loop;

    if ch = 64 then
      -- @macro: the word up to a blank, a newline or the end.
      word := '';
      loop
        ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
        exit when ch in (-1, 0, 32, 9, 10);
        word := word || chr(ch);
      end loop;
      if word in ('reboot', 'restart', 'yearly', 'annually', 'monthly', 'weekly', 'daily', 'midnight', 'hourly') then
        return true;
      end if;
    elsif ch <> -1 then
      -- minute, hour, day of month, month, day of week
      field := 0;
      while field < 5 and ch <> -1 loop
        field := field + 1;
        lo := (array[0, 0, 1, 1, 0])[field];
        hi := (array[59, 23, 31, 12, 7])[field];
        names := case field
                   when 4 then array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
                   when 5 then array['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
                 end;
        if field = 3 and ch = 36 then
          -- `$`: the last day of the month; a blank must follow.
          ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
          if ch not in (32, 9) then
            ch := -1;
          else
            while ch in (32, 9) loop
              ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
            end loop;
          end if;
          continue;
        end if;
        -- A list of ranges separated by commas.
        done := false;
        while not done loop
          -- One range: `*`, a number or name, or `a-b`, each optionally followed by `/step`.
          num3 := 1;
          if ch = 42 then
            num1 := lo; num2 := hi;
            ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
          else
            num2 := null;
            for part in 1..2 loop
              -- A number or a name: the run of ASCII letters and digits at this point.
              word := '';
              while (ch between 48 and 57) or (ch between 65 and 90) or (ch between 97 and 122) loop
                word := word || chr(ch);
                ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
              end loop;
              if word = '' or length(word) >= 1000 then
                ch := -1;
              elsif names is not null and lower(word) = any (names) then
                num1 := case when part = 1 then array_position(names, lower(word)) - 1 + lo else num1 end;
                num2 := case when part = 2 then array_position(names, lower(word)) - 1 + lo else num2 end;
              elsif word ~ '^[0-9]+$' then
                -- C's atoi: the low 32 bits of the number, read as signed (-1 past 2^63)
                v := word::numeric;
                v := case when v >= 9223372036854775808 then -1
                          when mod(v, 4294967296) >= 2147483648 then mod(v, 4294967296) - 4294967296
                          else mod(v, 4294967296) end;
                num1 := case when part = 1 then v::int else num1 end;
                num2 := case when part = 2 then v::int else num2 end;
              else
                ch := -1;
              end if;
              exit when ch = -1;
              if part = 1 then
                if ch = 45 then
                  ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
                  exit when ch = -1;
                else
                  -- A single value; a step needs a range.
                  if ch = 47 or num1 < lo or num1 > hi then ch := -1; end if;
                  num2 := -1;
                  exit;
                end if;
              end if;
            end loop;
          end if;
          if ch <> -1 and num2 is distinct from -1 then
            if ch = 47 then
              ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
              word := '';
              while (ch between 48 and 57) or (ch between 65 and 90) or (ch between 97 and 122) loop
                word := word || chr(ch);
                ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
              end loop;
              if word !~ '^[0-9]+$' or length(word) >= 1000 then
                ch := -1;
              else
                v := word::numeric;
                v := case when v >= 9223372036854775808 then -1
                          when mod(v, 4294967296) >= 2147483648 then mod(v, 4294967296) - 4294967296
                          else mod(v, 4294967296) end;
                if v <= 0 then ch := -1; end if;
              end if;
            end if;
            if num1 < lo or num1 > hi or num2 < lo or num2 > hi then
              ch := -1;
            end if;
          end if;
          if ch = 44 then
            ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
          else
            done := true;
          end if;
        end loop;
        -- Whatever follows the list up to a blank is skipped, then the blanks.
        while ch not in (9, 32, 10, -1, 0) loop
          ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
        end loop;
        while ch in (32, 9) loop
          ch := case when pos <= n then codes[pos] when pos = n + 1 then 0 else -1 end; pos := pos + 1;
        end loop;
      end loop;
      if field = 5 and ch <> -1 then
        return true;
      end if;
    end if;
  end if;

  -- '<n> second' or '<n> seconds' with 0 < n < 60 (pg_cron reads it with sscanf after lower-casing ASCII).
  lowered := translate(schedule, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
  word := substring(lowered from '^[ \t\n\r\f\v]*([+-]?[0-9]+)[ \t\n\r\f\v]*secon');
  if word is null then
    return false;
  end if;
  i := length(substring(lowered from '^[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*secon'));
  -- The character after "secon" must be "d"; then either the end, or "s" and nothing but blanks.
  if substr(lowered, i + 1, 1) <> 'd' then
    return false;
  end if;
  if i + 1 < length(lowered) and not (substr(lowered, i + 2, 1) = 's' and substr(lowered, i + 3) ~ '^[ \t\n\r\f\v]*$') then
    return false;
  end if;
  -- %u wraps negative and oversized numbers into 32 bits.
  v := ltrim(word, '+-')::numeric;
  if v >= 18446744073709551616 then
    v := 18446744073709551615;
  elsif word like '-%' and v > 0 then
    v := 18446744073709551616 - v;
  end if;
  v := mod(v, 4294967296);
  return v > 0 and v < 60;
end
$fn$;

-- The session's role may not write cron.job; pg_cron writes it as the extension's owner, and so does this helper.
-- It is called only by the functions below, with the role that called them (checked against the session).
create function cron._standin_write(action text, caller text, job_id bigint, job_name text, schedule text,
                                    command text, database text, username text, active boolean)
returns bigint
language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
  found_id bigint;
  owner text;
  sets text[] := '{}';
  touched bigint;
  is_super boolean;
begin
  if not pg_has_role(session_user, caller, 'member') then
    raise exception 'permission denied to act as role "%"', caller using errcode = '42501';
  end if;
  select rolsuper into is_super from pg_roles where rolname = caller;

  if action = 'insert' then
    insert into cron.job as j (schedule, command, nodename, nodeport, database, username, active, jobname)
    values ($5, $6, 'localhost', current_setting('port')::int, $7, $8, $9, $4)
    on conflict on constraint jobname_username_uniq do update
      set schedule = excluded.schedule, command = excluded.command, database = excluded.database
    returning j.jobid into found_id;
    return found_id;
  end if;

  if action = 'delete' then
    if job_id is not null then
      select j.jobid, j.username into found_id, owner from cron.job j where j.jobid = $3;
      if found_id is null then
        raise exception 'could not find valid entry for job %', job_id;
      end if;
    else
      select j.jobid, j.username into found_id, owner from cron.job j where j.jobname = $4 and j.username = caller;
      if found_id is null then
        raise exception 'could not find valid entry for job ''%''', job_name;
      end if;
    end if;
    if lower(owner) <> lower(caller) and not has_table_privilege(caller, 'cron.job', 'DELETE') then
      raise exception 'permission denied for table job' using errcode = '42501';
    end if;
    delete from cron.job j where j.jobid = found_id;
    return found_id;
  end if;

  -- alter: only the given fields change; a job of another role only for a superuser.
  update cron.job j
     set database = coalesce($7, j.database),
         schedule = coalesce($5, j.schedule),
         command = coalesce($6, j.command),
         username = coalesce($8, j.username),
         active = coalesce($9, j.active)
   where j.jobid = $3 and (is_super or j.username = caller);
  get diagnostics touched = row_count;
  if touched = 0 then
    raise exception 'Job % does not exist or you don''t own it', job_id;
  end if;
  return job_id;
end
$fn$;
grant execute on function cron._standin_write(text, text, bigint, text, text, text, text, text, boolean) to public;

-- The checks pg_cron makes before it records or changes a job, in its order and with its messages.
create function cron._standin_check_schedule(schedule text) returns void
language plpgsql immutable set search_path = pg_catalog, pg_temp as $fn$
begin
  if not cron._standin_valid_schedule(schedule) then
    raise exception 'invalid schedule: %', schedule
      using errcode = '22023', hint = 'Use cron format (e.g. 5 4 * * *), or interval format ''[1-59] seconds''';
  end if;
end
$fn$;

-- A job may run as another role only for a superuser, and only as a role that can log in.
create function cron._standin_check_role(username text, message text) returns void
language plpgsql stable set search_path = pg_catalog, pg_temp as $fn$
declare
  can_login boolean;
begin
  if not (select rolsuper from pg_roles where rolname = current_user) then
    raise exception '%', message;
  end if;
  select rolcanlogin into can_login from pg_roles where rolname = username;
  if can_login is null then
    raise exception 'role "%" does not exist', username;
  elsif not can_login then
    raise exception 'role "%" can not log in', username
      using detail = 'Jobs may only be run by roles that have the LOGIN attribute.';
  end if;
end
$fn$;

-- The job's role must be able to connect to the job's database; pg_cron's default database is its
-- cron.database_name setting, 'postgres' unless set (as on the platform).
create function cron._standin_check_database(database text, username text) returns text
language plpgsql stable set search_path = pg_catalog, pg_temp as $fn$
declare
  db text := coalesce(database, nullif(current_setting('cron.database_name', true), ''), 'postgres');
begin
  if not exists (select 1 from pg_database where datname = db) then
    raise exception 'database "%" does not exist', db using errcode = '3D000';
  end if;
  if not has_database_privilege(username, db, 'CONNECT') then
    raise exception 'User % does not have CONNECT privilege on %', username, db;
  end if;
  return db;
end
$fn$;

create function cron.schedule(schedule text, command text) returns bigint
language plpgsql strict as $fn$
declare
  db text;
begin
  perform cron._standin_check_schedule(schedule);
  db := cron._standin_check_database(null, current_user);
  return cron._standin_write('insert', current_user, null, null, schedule, command, db, current_user, true);
end
$fn$;
comment on function cron.schedule(text, text) is 'schedule a pg_cron job';

create function cron.schedule(job_name text, schedule text, command text) returns bigint
language plpgsql as $fn$
declare
  db text;
begin
  if job_name is null then raise exception 'job_name can not be NULL'; end if;
  if schedule is null then raise exception 'schedule can not be NULL'; end if;
  if command is null then raise exception 'command can not be NULL'; end if;
  perform cron._standin_check_schedule(schedule);
  db := cron._standin_check_database(null, current_user);
  return cron._standin_write('insert', current_user, null, job_name, schedule, command, db, current_user, true);
end
$fn$;
comment on function cron.schedule(text, text, text) is 'schedule a pg_cron job';

create function cron.schedule_in_database(job_name text, schedule text, command text, database text,
                                          username text default null, active boolean default true)
returns bigint
language plpgsql as $fn$
declare
  db text;
begin
  if job_name is null then raise exception 'job_name can not be NULL'; end if;
  if schedule is null then raise exception 'schedule can not be NULL'; end if;
  if command is null then raise exception 'command can not be NULL'; end if;
  perform cron._standin_check_schedule(schedule);
  if username is not null then
    perform cron._standin_check_role(username, 'must be superuser to create a job for another role');
  end if;
  db := cron._standin_check_database(database, coalesce(username, current_user));
  return cron._standin_write('insert', current_user, null, job_name, schedule, command, db,
                             coalesce(username, current_user), coalesce(active, true));
end
$fn$;
comment on function cron.schedule_in_database(text, text, text, text, text, boolean) is 'schedule a pg_cron job';
-- As pg_cron: scheduling in another database is for roles the administrator grants it to.
revoke all on function cron.schedule_in_database(text, text, text, text, text, boolean) from public;

create function cron.unschedule(job_id bigint) returns boolean
language plpgsql strict as $fn$
begin
  perform cron._standin_write('delete', current_user, job_id, null, null, null, null, null, null);
  return true;
end
$fn$;
comment on function cron.unschedule(bigint) is 'unschedule a pg_cron job';

create function cron.unschedule(job_name text) returns boolean
language plpgsql strict as $fn$
begin
  perform cron._standin_write('delete', current_user, null, job_name, null, null, null, null, null);
  return true;
end
$fn$;
comment on function cron.unschedule(text) is 'unschedule a pg_cron job';

create function cron.alter_job(job_id bigint, schedule text default null, command text default null,
                               database text default null, username text default null, active boolean default null)
returns void
language plpgsql as $fn$
begin
  if job_id is null then
    raise exception 'job_id can not be NULL';
  end if;
  if username is not null then
    perform cron._standin_check_role(username, 'must be superuser to alter username');
  end if;
  if database is not null then
    perform cron._standin_check_database(database, coalesce(username, current_user));
  end if;
  if schedule is not null then
    perform cron._standin_check_schedule(schedule);
  end if;
  if schedule is null and command is null and database is null and username is null and active is null then
    raise exception 'no updates specified'
      using hint = 'You must specify at least one job attribute to change when calling alter_job';
  end if;
  perform cron._standin_write('alter', current_user, job_id, null, schedule, command, database, username, active);
end
$fn$;
comment on function cron.alter_job(bigint, text, text, text, text, boolean)
  is 'Alter the job identified by job_id. Any option left as NULL will not be modified.';
revoke all on function cron.alter_job(bigint, text, text, text, text, boolean) from public;

-- pg_cron's worker reloads its jobs when this fires; there is no worker here.
create function cron.job_cache_invalidate() returns trigger
language plpgsql as $fn$
begin
  return null;
end
$fn$;
comment on function cron.job_cache_invalidate() is 'invalidate job cache';

create trigger cron_job_cache_invalidate
  after insert or update or delete or truncate on cron.job
  for each statement execute function cron.job_cache_invalidate();

-- The platform's after-create script: postgres manages cron (reads cron.job, runs the functions) without owning
-- it. Skipped where postgres itself creates the extension (it owns everything then).
do $grants$
begin
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'postgres') and current_user <> 'postgres' then
    grant usage on schema cron to postgres with grant option;
    grant all on all functions in schema cron to postgres with grant option;
    grant all privileges on all tables in schema cron to postgres with grant option;
    revoke all on table cron.job from postgres;
    grant select on table cron.job to postgres with grant option;
  end if;
end
$grants$;
