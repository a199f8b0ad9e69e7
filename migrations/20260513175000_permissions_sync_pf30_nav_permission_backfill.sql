-- pf30: every nav item now needs a permission; backfill the ones added before the sync knew about them.

insert into public.nav_item_permissions (nav_key, permission_key)
select v.nav_key, v.permission_key
from (values
  ('contacts', 'contacts.read'),
  ('sequences', 'sequences.read'),
  ('forms', 'forms.read')
) as v (nav_key, permission_key)
join public.nav_items n on n.key = v.nav_key
join public.permissions p on p.key = v.permission_key
on conflict do nothing;
