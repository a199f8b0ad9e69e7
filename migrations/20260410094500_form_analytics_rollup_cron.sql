-- Roll submissions up into form_analytics_daily every 15 minutes (pg_cron, where the database has it).

create or replace function public.rollup_form_analytics(p_day date default current_date)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.form_analytics_daily (form_id, day, submissions, completions)
  select s.form_id, p_day, count(*), count(*) filter (where s.completed)
  from public.form_submissions s
  where s.submitted_at >= p_day and s.submitted_at < p_day + 1
  group by s.form_id
  on conflict (form_id, day) do update
    set submissions = excluded.submissions, completions = excluded.completions;
$$;

revoke execute on function public.rollup_form_analytics(date) from public, anon, authenticated;
grant execute on function public.rollup_form_analytics(date) to service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('form-analytics-rollup', '*/15 * * * *', 'select public.rollup_form_analytics()');
  end if;
end
$$;
