-- Permissions sync (generated from the app's permission registry at eba09871): upsert keys and descriptions.

insert into public.permissions (key, description) values
  ('org.manage', 'Manage organization settings and members'),
  ('problems.read', 'Read problems'),
  ('problems.manage', 'Create, edit, assign and close problems'),
  ('contacts.read', 'Read contacts'),
  ('contacts.manage', 'Create, edit and import contacts'),
  ('forms.read', 'Read forms and their submissions'),
  ('forms.manage', 'Create, edit and publish forms'),
  ('sequences.read', 'Read sequences and their steps'),
  ('sequences.manage', 'Create and edit sequences, steps and enrollments'),
  ('sequences.delete', 'Delete sequences and steps')
on conflict (key) do update set description = excluded.description;

insert into public.role_permissions (role, permission_key) values
  ('owner', 'contacts.read'), ('owner', 'contacts.manage'), ('owner', 'forms.read'), ('owner', 'forms.manage'),
  ('admin', 'contacts.read'), ('admin', 'contacts.manage'), ('admin', 'forms.read'), ('admin', 'forms.manage'),
  ('member', 'contacts.read'), ('member', 'forms.read')
on conflict do nothing;
