-- The rollup only ever looked at today, so a missed run lost a day. Roll up yesterday and today on each run,
-- reschedule the job (cron.schedule replaces a job of the same name), and backfill the last 30 days.

create or replace function public.rollup_form_analytics(p_day date default current_date)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.form_analytics_daily (form_id, day, submissions, completions)
  select s.form_id, s.submitted_at::date, count(*), count(*) filter (where s.completed)
  from public.form_submissions s
  where s.submitted_at >= p_day - 1 and s.submitted_at < p_day + 1
  group by s.form_id, s.submitted_at::date
  on conflict (form_id, day) do update
    set submissions = excluded.submissions, completions = excluded.completions;
$$;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('form-analytics-rollup', '*/15 * * * *', 'select public.rollup_form_analytics(current_date)');
  end if;
end
$$;

select public.rollup_form_analytics(d::date)
from generate_series(current_date - 30, current_date, interval '2 days') as d;
