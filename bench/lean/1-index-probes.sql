-- A leaner SQL entry point, step 1 of 2 — applied by bench/sql-lean.ts to its scratch database only;
-- written against supabase/migrations/20261122000100_clerk_sync_functions.sql as of 8780e10, and
-- adopted there in bbd0ad0 (so `as migrated` and this file now agree; kept for re-measuring).
--
-- The batch upserts, which clerk_sync_apply_event calls with one row, classify each input row with
-- an index probe instead of a join. Postgres estimates jsonb_to_recordset at 100 rows, so while a
-- mirror table is small (up to roughly 30k rows) it plans a hash join: every webhook event reads
-- users_public (or organizations, or organization_memberships) in full. Same results.

create or replace function clerk_sync.upsert_users(p_rows jsonb)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*
    from jsonb_to_recordset(p_rows) as r(
      id text, username text, first_name text, last_name text, image_url text,
      email text, phone text, external_id text, public_metadata jsonb, unsafe_metadata jsonb,
      private_metadata jsonb, last_sign_in_at timestamptz, banned boolean, locked boolean,
      created_at timestamptz, updated_at timestamptz, attrs jsonb)
    order by r.id, r.updated_at desc
  ), classified as (
    select i.*, case
        when exists (select 1 from clerk_sync.tombstones t where t.kind = 'user' and t.id = i.id) then 'deleted'
        when u.updated_at is null or u.updated_at < i.updated_at then 'apply'
        when u.updated_at = i.updated_at then 'unchanged'
        else 'stale' end as state
    from input i
    -- One index probe per input row. As a join, the planner (which puts jsonb_to_recordset at 100
    -- rows) hashes the whole table instead while it is small (up to ~30k rows): a seq scan per event.
    -- `offset 0` keeps the subquery from being flattened back into that join.
    left join lateral (select u.updated_at from public.users_public u where u.id = i.id offset 0) u on true
  ), live as (
    select * from classified where state <> 'deleted'
  ), pub as (
    insert into public.users_public as u (id, username, first_name, last_name, image_url, created_at, updated_at)
    select id, username, first_name, last_name, image_url, created_at, updated_at from live
    on conflict (id) do update set
      username = excluded.username, first_name = excluded.first_name, last_name = excluded.last_name,
      image_url = excluded.image_url, created_at = excluded.created_at, updated_at = excluded.updated_at
    where u.updated_at < excluded.updated_at
    returning u.id, (u.xmax = 0) as inserted
  ), priv as (
    insert into public.users_private as p (id, email, phone, external_id, public_metadata, unsafe_metadata,
      last_sign_in_at, banned, locked, created_at, updated_at, attrs)
    select id, email, phone, external_id, coalesce(public_metadata, '{}'), coalesce(unsafe_metadata, '{}'),
      last_sign_in_at, coalesce(banned, false), coalesce(locked, false), created_at, updated_at,
      coalesce(attrs, '{}')
    from live
    on conflict (id) do update set
      email = excluded.email, phone = excluded.phone, external_id = excluded.external_id,
      public_metadata = excluded.public_metadata, unsafe_metadata = excluded.unsafe_metadata,
      last_sign_in_at = excluded.last_sign_in_at, banned = excluded.banned, locked = excluded.locked,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where p.updated_at < excluded.updated_at
    returning p.id
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at)
    select 'user', id, coalesce(private_metadata, '{}'), updated_at from live
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at
    where m.updated_at < excluded.updated_at
    returning m.id
  )
  select jsonb_build_object(
    'inserted', count(*) filter (where pub.inserted),
    'updated', count(*) filter (where pub.id is not null and not pub.inserted),
    'unchanged', count(*) filter (where pub.id is null and c.state in ('unchanged', 'apply')),
    'stale', count(*) filter (where pub.id is null and c.state = 'stale'),
    'deleted', count(*) filter (where c.state = 'deleted'))
  into v_result
  from classified c left join pub on pub.id = c.id;
  return v_result;
end;
$$;

create or replace function clerk_sync.upsert_organizations(p_rows jsonb)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*
    from jsonb_to_recordset(p_rows) as r(
      id text, name text, slug text, image_url text, public_metadata jsonb, private_metadata jsonb,
      created_by text, created_at timestamptz, updated_at timestamptz, attrs jsonb)
    order by r.id, r.updated_at desc
  ), classified as (
    select i.*, case
        when exists (select 1 from clerk_sync.tombstones t where t.kind = 'organization' and t.id = i.id) then 'deleted'
        when o.updated_at is null or o.updated_at < i.updated_at then 'apply'
        when o.updated_at = i.updated_at then 'unchanged'
        else 'stale' end as state
    from input i
    left join lateral (select o.updated_at from public.organizations o where o.id = i.id offset 0) o on true
  ), live as (
    select * from classified where state <> 'deleted'
  ), org as (
    insert into public.organizations as o (id, name, slug, image_url, public_metadata, created_by,
      created_at, updated_at, attrs)
    select id, name, slug, image_url, coalesce(public_metadata, '{}'), created_by, created_at, updated_at,
      coalesce(attrs, '{}')
    from live
    on conflict (id) do update set
      name = excluded.name, slug = excluded.slug, image_url = excluded.image_url,
      public_metadata = excluded.public_metadata, created_by = excluded.created_by,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where o.updated_at < excluded.updated_at
    returning o.id, (o.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at)
    select 'organization', id, coalesce(private_metadata, '{}'), updated_at from live
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at
    where m.updated_at < excluded.updated_at
    returning m.id
  )
  select jsonb_build_object(
    'inserted', count(*) filter (where org.inserted),
    'updated', count(*) filter (where org.id is not null and not org.inserted),
    'unchanged', count(*) filter (where org.id is null and c.state in ('unchanged', 'apply')),
    'stale', count(*) filter (where org.id is null and c.state = 'stale'),
    'deleted', count(*) filter (where c.state = 'deleted'))
  into v_result
  from classified c left join org on org.id = c.id;
  return v_result;
end;
$$;

create or replace function clerk_sync.upsert_memberships(p_rows jsonb)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*
    from jsonb_to_recordset(p_rows) as r(
      id text, organization_id text, user_id text, role text, permissions text[], public_metadata jsonb,
      private_metadata jsonb, created_at timestamptz, updated_at timestamptz)
    order by r.id, r.updated_at desc
  ), classified as (
    select i.*, case
        when exists (
          select 1 from clerk_sync.tombstones t
          where (t.kind, t.id) in (('membership', i.id), ('organization', i.organization_id), ('user', i.user_id))
        ) then 'deleted'
        when m.updated_at is null or m.updated_at < i.updated_at then 'apply'
        when m.updated_at = i.updated_at then 'unchanged'
        else 'stale' end as state
    from input i
    left join lateral (select m.updated_at from public.organization_memberships m where m.id = i.id offset 0) m on true
  ), live as (
    select * from classified where state <> 'deleted'
  ), mem as (
    insert into public.organization_memberships as m (id, organization_id, user_id, role, permissions,
      public_metadata, created_at, updated_at)
    select id, organization_id, user_id, role, coalesce(permissions, '{}'), coalesce(public_metadata, '{}'),
      created_at, updated_at
    from live
    on conflict (id) do update set
      organization_id = excluded.organization_id, user_id = excluded.user_id, role = excluded.role,
      permissions = excluded.permissions, public_metadata = excluded.public_metadata,
      created_at = excluded.created_at, updated_at = excluded.updated_at
    where m.updated_at < excluded.updated_at
    returning m.id, (m.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as pm (kind, id, data, updated_at)
    select 'membership', id, coalesce(private_metadata, '{}'), updated_at from live
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at
    where pm.updated_at < excluded.updated_at
    returning pm.id
  )
  select jsonb_build_object(
    'inserted', count(*) filter (where mem.inserted),
    'updated', count(*) filter (where mem.id is not null and not mem.inserted),
    'unchanged', count(*) filter (where mem.id is null and c.state in ('unchanged', 'apply')),
    'stale', count(*) filter (where mem.id is null and c.state = 'stale'),
    'deleted', count(*) filter (where c.state = 'deleted'))
  into v_result
  from classified c left join mem on mem.id = c.id;
  return v_result;
end;
$$;
