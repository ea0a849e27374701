-- clerk-supabase-sync: ensure — the cheap read behind `POST /users/me/sync` and `ensureUser`.
-- Whether the mirror already has a user (and the membership of their active organization), so the
-- caller answers without asking Clerk; the writes go through the batch upserts like a backfill.

-- ============================================================================================
-- Functions
-- ============================================================================================

-- Where the mirror stands on a user and, when `organization_id` is given, that organization and the
-- user's membership in it: {user, organization, membership}, each 'present', 'absent' or (user and
-- organization) 'deleted' when a tombstone holds; organization and membership are null without one.
create or replace function public.clerk_sync_ensure_status(user_id text, organization_id text default null)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'user', case
      when exists (select 1 from clerk_sync.tombstones t where t.kind = 'user' and t.id = $1) then 'deleted'
      when exists (select 1 from public.users_public u where u.id = $1) then 'present'
      else 'absent' end,
    'organization', case
      when $2 is null then null
      when exists (select 1 from clerk_sync.tombstones t where t.kind = 'organization' and t.id = $2) then 'deleted'
      when exists (select 1 from public.organizations o where o.id = $2) then 'present'
      else 'absent' end,
    'membership', case
      when $2 is null then null
      when exists (
        select 1 from public.organization_memberships m where m.user_id = $1 and m.organization_id = $2
      ) then 'present'
      else 'absent' end)
$$;
revoke execute on function public.clerk_sync_ensure_status(text, text) from public, anon, authenticated;
grant execute on function public.clerk_sync_ensure_status(text, text) to service_role;

-- The schema version this database is at; `GET /healthz` compares it with the code's.
create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202300000'::text
$$;
