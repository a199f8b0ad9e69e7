-- ce13: the sequence executor: every minute, advance the enrollments that are due (pg_cron, where available).

create or replace function public.run_sequence_executor(p_limit integer default 500)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  for v_id in
    select e.id from public.sequence_enrollments e
    where e.status = 'active' and e.next_run_at <= now()
    order by e.next_run_at
    limit p_limit
    for update skip locked
  loop
    perform public.advance_sequence_enrollment(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

revoke execute on function public.run_sequence_executor(integer) from public, anon, authenticated;
grant execute on function public.run_sequence_executor(integer) to service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('sequence-executor', '* * * * *', 'select public.run_sequence_executor()');
  end if;
end
$$;
