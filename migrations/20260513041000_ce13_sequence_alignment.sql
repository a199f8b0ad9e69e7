-- ce13: align sequences with the new executor: minute-level delays, a per-sequence send window, and
-- contiguous step positions (the reorder RPC relies on 1..n).

alter table public.sequence_steps add column if not exists delay_minutes integer not null default 0;
update public.sequence_steps set delay_minutes = wait_hours * 60 where delay_minutes = 0 and wait_hours > 0;

alter table public.sequences add column if not exists send_window_start time not null default '08:00';
alter table public.sequences add column if not exists send_window_end time not null default '18:00';
alter table public.sequences add column if not exists updated_at timestamptz not null default now();

-- Close gaps left by deleted steps: renumber through negative positions so the unique key never collides.
update public.sequence_steps set position = -position;
update public.sequence_steps s
set position = r.rn
from (
  select id, row_number() over (partition by sequence_id order by -position) as rn
  from public.sequence_steps
) r
where r.id = s.id;
