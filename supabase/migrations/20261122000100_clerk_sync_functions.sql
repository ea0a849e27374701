-- clerk-supabase-sync: the SQL that owns the sync semantics. Every caller (webhook receiver,
-- backfill, replay, on any runtime) goes through these functions, so they are where ordering,
-- idempotency and tombstones are enforced.
--
-- Rows arrive as jsonb arrays of objects shaped like the mirror tables (timestamps as ISO 8601),
-- plus `private_metadata`, which goes to clerk_sync.private_metadata only.
--
-- The internal clerk_sync.* functions are not security definer and set no search_path: only the
-- owner can run them, always from the public entry points, which set search_path = ''. That keeps
-- them cheap to call, and lets Postgres inline object_key.
--
-- Concurrency: every write first takes transaction-scoped advisory locks on the objects it
-- touches (exclusive on the object, shared on a membership's organization and user), in key order
-- so that callers never deadlock each other. This makes "check tombstone, then write" atomic with
-- respect to a concurrent delete; the `on conflict … where updated_at <` guard still decides
-- newest-wins on the row itself.

-- ============================================================================================
-- Internal helpers (schema clerk_sync, not executable by anyone but the owner)
-- ============================================================================================

-- The advisory lock key of a Clerk object.
create or replace function clerk_sync.object_key(p_kind text, p_id text)
returns bigint
language sql
immutable
parallel safe
as $$
  select pg_catalog.hashtextextended(p_kind operator(pg_catalog.||) ':' operator(pg_catalog.||) p_id, 0)
$$;

-- Takes exclusive and shared transaction locks on object keys, in key order.
create or replace function clerk_sync.lock_objects(p_exclusive bigint[], p_shared bigint[])
returns void
language plpgsql
volatile
as $$
begin
  perform case when s.exclusive then pg_catalog.pg_advisory_xact_lock(s.k)
               else pg_catalog.pg_advisory_xact_lock_shared(s.k) end
  from (
    select k, pg_catalog.bool_or(exclusive) as exclusive
    from (
      select unnest(p_exclusive) as k, true as exclusive
      union all
      select unnest(p_shared), false
    ) keys
    where k is not null
    group by k
    order by k
  ) s;
end;
$$;

-- Locks the objects a batch of rows writes: each row's own object exclusively and, for
-- memberships, their organization and user shared (so a concurrent delete of either waits).
create or replace function clerk_sync.lock_rows(p_kind text, p_rows jsonb)
returns void
language sql
volatile
as $$
  select clerk_sync.lock_objects(
    array(select clerk_sync.object_key(p_kind, r ->> 'id') from jsonb_array_elements(p_rows) r),
    case when p_kind = 'membership' then
      array(select clerk_sync.object_key('organization', r ->> 'organization_id') from jsonb_array_elements(p_rows) r
            union
            select clerk_sync.object_key('user', r ->> 'user_id') from jsonb_array_elements(p_rows) r)
    else '{}' end)
$$;

-- Locks objects of one kind by id, exclusively (deletes).
create or replace function clerk_sync.lock_ids(p_kind text, p_ids text[])
returns void
language sql
volatile
as $$
  select clerk_sync.lock_objects(array(select clerk_sync.object_key(p_kind, i) from unnest(p_ids) i), '{}')
$$;

-- Upserts users (public row, private row, private metadata); caller holds the locks.
create or replace function clerk_sync.upsert_users(p_rows jsonb)
returns jsonb
language plpgsql
volatile
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
  ), pub as (
    -- Each insert filters `classified` itself (materialized once, with every column): a CTE of the
    -- live rows would be a second copy of the whole page (~1 ms of a 500-user page).
    insert into public.users_public as u (id, username, first_name, last_name, image_url, created_at, updated_at)
    select id, username, first_name, last_name, image_url, created_at, updated_at
    from classified where state <> 'deleted'
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
    from classified where state <> 'deleted'
    on conflict (id) do update set
      email = excluded.email, phone = excluded.phone, external_id = excluded.external_id,
      public_metadata = excluded.public_metadata, unsafe_metadata = excluded.unsafe_metadata,
      last_sign_in_at = excluded.last_sign_in_at, banned = excluded.banned, locked = excluded.locked,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where p.updated_at < excluded.updated_at
    returning p.id
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at)
    select 'user', id, coalesce(private_metadata, '{}'), updated_at from classified where state <> 'deleted'
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

-- Upserts organizations (row and private metadata); caller holds the locks.
create or replace function clerk_sync.upsert_organizations(p_rows jsonb)
returns jsonb
language plpgsql
volatile
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
  ), org as (
    insert into public.organizations as o (id, name, slug, image_url, public_metadata, created_by,
      created_at, updated_at, attrs)
    select id, name, slug, image_url, coalesce(public_metadata, '{}'), created_by, created_at, updated_at,
      coalesce(attrs, '{}')
    from classified where state <> 'deleted'
    on conflict (id) do update set
      name = excluded.name, slug = excluded.slug, image_url = excluded.image_url,
      public_metadata = excluded.public_metadata, created_by = excluded.created_by,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where o.updated_at < excluded.updated_at
    returning o.id, (o.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at)
    select 'organization', id, coalesce(private_metadata, '{}'), updated_at from classified where state <> 'deleted'
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

-- Upserts memberships (row and private metadata); a membership of a deleted user or organization
-- is refused like a deleted membership. Caller holds the locks.
create or replace function clerk_sync.upsert_memberships(p_rows jsonb)
returns jsonb
language plpgsql
volatile
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
  ), mem as (
    insert into public.organization_memberships as m (id, organization_id, user_id, role, permissions,
      public_metadata, created_at, updated_at)
    select id, organization_id, user_id, role, coalesce(permissions, '{}'), coalesce(public_metadata, '{}'),
      created_at, updated_at
    from classified where state <> 'deleted'
    on conflict (id) do update set
      organization_id = excluded.organization_id, user_id = excluded.user_id, role = excluded.role,
      permissions = excluded.permissions, public_metadata = excluded.public_metadata,
      created_at = excluded.created_at, updated_at = excluded.updated_at
    where m.updated_at < excluded.updated_at
    returning m.id, (m.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as pm (kind, id, data, updated_at)
    select 'membership', id, coalesce(private_metadata, '{}'), updated_at from classified where state <> 'deleted'
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

-- Deletes users with their personal data everywhere and leaves tombstones; caller holds the locks.
create or replace function clerk_sync.delete_users(p_ids text[])
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with tomb as (
    insert into clerk_sync.tombstones (kind, id) select 'user', unnest(p_ids)
    on conflict do nothing
    returning id
  ), pub as (
    delete from public.users_public where id = any(p_ids) returning id
  ), priv as (
    delete from public.users_private where id = any(p_ids)
  ), mem as (
    delete from public.organization_memberships where user_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'user' and id = any(p_ids)) or (kind = 'membership' and id in (select id from mem))
  ), ledger as (
    -- Erasure: failed payloads are the only place the ledger keeps personal data.
    update clerk_sync.events set payload = null, error = coalesce(error, '') || ' (payload erased: user deleted)'
    where payload is not null and (user_id = any(p_ids) or object_id = any(p_ids))
  )
  select jsonb_build_object('deleted', (select count(*) from pub), 'tombstoned', (select count(*) from tomb))
  into v_result;
  return v_result;
end;
$$;

-- Deletes organizations with their memberships and leaves tombstones; caller holds the locks.
create or replace function clerk_sync.delete_organizations(p_ids text[])
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with tomb as (
    insert into clerk_sync.tombstones (kind, id) select 'organization', unnest(p_ids)
    on conflict do nothing
    returning id
  ), org as (
    delete from public.organizations where id = any(p_ids) returning id
  ), mem as (
    delete from public.organization_memberships where organization_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'organization' and id = any(p_ids)) or (kind = 'membership' and id in (select id from mem))
  )
  select jsonb_build_object('deleted', (select count(*) from org), 'tombstoned', (select count(*) from tomb))
  into v_result;
  return v_result;
end;
$$;

-- Deletes memberships and leaves tombstones; caller holds the locks.
create or replace function clerk_sync.delete_memberships(p_ids text[])
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with tomb as (
    insert into clerk_sync.tombstones (kind, id) select 'membership', unnest(p_ids)
    on conflict do nothing
    returning id
  ), mem as (
    delete from public.organization_memberships where id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata where kind = 'membership' and id = any(p_ids)
  )
  select jsonb_build_object('deleted', (select count(*) from mem), 'tombstoned', (select count(*) from tomb))
  into v_result;
  return v_result;
end;
$$;

revoke all on all functions in schema clerk_sync from public;

-- ============================================================================================
-- Batch entry points (backfill): one call per page, service role only
-- ============================================================================================

-- Upserts a batch of users, newest `updated_at` wins; returns {inserted, updated, unchanged, stale, deleted}.
create or replace function public.clerk_sync_upsert_users(rows jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_rows('user', rows);
  return clerk_sync.upsert_users(rows);
end;
$$;
revoke execute on function public.clerk_sync_upsert_users(jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_upsert_users(jsonb) to service_role;

-- Upserts a batch of organizations, newest `updated_at` wins.
create or replace function public.clerk_sync_upsert_organizations(rows jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_rows('organization', rows);
  return clerk_sync.upsert_organizations(rows);
end;
$$;
revoke execute on function public.clerk_sync_upsert_organizations(jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_upsert_organizations(jsonb) to service_role;

-- Upserts a batch of memberships, newest `updated_at` wins.
create or replace function public.clerk_sync_upsert_memberships(rows jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_rows('membership', rows);
  return clerk_sync.upsert_memberships(rows);
end;
$$;
revoke execute on function public.clerk_sync_upsert_memberships(jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_upsert_memberships(jsonb) to service_role;

-- Deletes users (and their memberships and personal data) for good; returns {deleted, tombstoned}.
create or replace function public.clerk_sync_delete_users(ids text[])
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_ids('user', ids);
  return clerk_sync.delete_users(ids);
end;
$$;
revoke execute on function public.clerk_sync_delete_users(text[]) from public, anon, authenticated;
grant execute on function public.clerk_sync_delete_users(text[]) to service_role;

-- Deletes organizations (and their memberships) for good.
create or replace function public.clerk_sync_delete_organizations(ids text[])
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_ids('organization', ids);
  return clerk_sync.delete_organizations(ids);
end;
$$;
revoke execute on function public.clerk_sync_delete_organizations(text[]) from public, anon, authenticated;
grant execute on function public.clerk_sync_delete_organizations(text[]) to service_role;

-- Deletes memberships for good.
create or replace function public.clerk_sync_delete_memberships(ids text[])
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_ids('membership', ids);
  return clerk_sync.delete_memberships(ids);
end;
$$;
revoke execute on function public.clerk_sync_delete_memberships(text[]) from public, anon, authenticated;
grant execute on function public.clerk_sync_delete_memberships(text[]) to service_role;

-- ============================================================================================
-- The webhook entry point: one event, one transaction, recorded in the ledger
-- ============================================================================================

-- Applies one webhook event atomically and records it; returns 'applied', 'duplicate', 'stale' or
-- 'failed'. `data` is the mapped row (upserts) or {"id": …} (deletes); a payload that could not be
-- mapped comes with `failure` and is stored as failed, with `payload`, for `clerk-sync replay`.
create or replace function public.clerk_sync_apply_event(
  event_id text,
  event_type text,
  data jsonb default null,
  occurred_at timestamptz default null,
  failure text default null,
  payload jsonb default null
)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_object text := data ->> 'id';
  v_kind text;
  v_user text;
  v_prior text;
  v_result jsonb;
  v_status text;
begin
  if event_id is null or event_id = '' then
    raise exception 'clerk_sync_apply_event: event_id is required' using errcode = '22023';
  end if;

  if failure is not null then
    v_object := payload #>> '{data,id}';
    v_user := coalesce(payload #>> '{data,public_user_data,user_id}',
                       case when event_type like 'user.%' then v_object end);
    insert into clerk_sync.events as e (id, type, object_id, user_id, status, error, payload, occurred_at)
    values (event_id, event_type, v_object, v_user, 'failed', failure,
            -- never keep personal data of a user who is already deleted
            case when exists (select 1 from clerk_sync.tombstones t where t.kind = 'user' and t.id = v_user)
                 then null else payload end,
            occurred_at)
    on conflict (id) do update set error = excluded.error, received_at = now()
    where e.status = 'failed'
    returning e.id into v_prior;
    return case when v_prior is null then 'duplicate' else 'failed' end;
  end if;

  if v_object is null then
    raise exception 'clerk_sync_apply_event: data.id is required for %', event_type using errcode = '22023';
  end if;

  v_kind := case split_part(event_type, '.', 1)
    when 'user' then 'user'
    when 'organization' then 'organization'
    when 'organizationMembership' then 'membership'
  end;
  if v_kind is null or split_part(event_type, '.', 2) not in ('created', 'updated', 'deleted') then
    raise exception 'clerk_sync_apply_event: unsupported event type %', event_type using errcode = '22023';
  end if;
  v_user := case v_kind when 'user' then v_object when 'membership' then data ->> 'user_id' end;
  -- The event's own object, exclusively (clerk_sync.object_key's key, inlined); a membership also
  -- locks its organization and user, shared, through lock_objects for the key order.
  if v_kind = 'membership' then
    perform clerk_sync.lock_objects(
      array[pg_catalog.hashtextextended('membership:' || v_object, 0)],
      array[pg_catalog.hashtextextended('organization:' || (data ->> 'organization_id'), 0),
            pg_catalog.hashtextextended('user:' || (data ->> 'user_id'), 0)]);
  else
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(v_kind || ':' || v_object, 0));
  end if;

  -- Idempotency and the ledger row in one statement: the locks above serialize deliveries of the
  -- same object, so a concurrent duplicate waits, then finds the row and gets no id back. A failed
  -- event being replayed is taken over; the status is corrected below if the event is stale.
  insert into clerk_sync.events as e (id, type, object_id, user_id, status, occurred_at)
  values (event_id, event_type, v_object, v_user, 'applied', occurred_at)
  on conflict (id) do update set status = excluded.status, error = null, payload = null, received_at = now()
  where e.status = 'failed'
  returning e.id into v_prior;
  if v_prior is null then
    return 'duplicate';
  end if;

  v_result := case event_type
    when 'user.created' then clerk_sync.upsert_users(jsonb_build_array(data))
    when 'user.updated' then clerk_sync.upsert_users(jsonb_build_array(data))
    when 'user.deleted' then clerk_sync.delete_users(array[v_object])
    when 'organization.created' then clerk_sync.upsert_organizations(jsonb_build_array(data))
    when 'organization.updated' then clerk_sync.upsert_organizations(jsonb_build_array(data))
    when 'organization.deleted' then clerk_sync.delete_organizations(array[v_object])
    when 'organizationMembership.deleted' then clerk_sync.delete_memberships(array[v_object])
    else clerk_sync.upsert_memberships(jsonb_build_array(data))
  end;

  v_status := case
    when (v_result ->> 'inserted')::int + (v_result ->> 'updated')::int > 0 then 'applied'
    when (v_result ->> 'tombstoned')::int > 0 then 'applied'
    else 'stale'
  end;

  if v_status <> 'applied' then
    update clerk_sync.events e set status = v_status where e.id = event_id;
  end if;
  return v_status;
end;
$$;
revoke execute on function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb)
  from public, anon, authenticated;
grant execute on function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb)
  to service_role;

-- ============================================================================================
-- Operations: schema version, ledger, private metadata (service role only)
-- ============================================================================================

-- The schema version this database is at; `GET /healthz` compares it with the code's.
create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261122000100'::text
$$;
revoke execute on function public.clerk_sync_schema_version() from public, anon, authenticated;
grant execute on function public.clerk_sync_schema_version() to service_role;

-- Ledger events stored as failed, oldest first, for `clerk-sync replay`.
create or replace function public.clerk_sync_failed_events(
  since timestamptz default null,
  ids text[] default null,
  max_rows integer default 500
)
returns table (id text, type text, payload jsonb, error text, occurred_at timestamptz, received_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
  select e.id, e.type, e.payload, e.error, e.occurred_at, e.received_at
  from clerk_sync.events e
  where e.status = 'failed'
    and (since is null or e.received_at >= since)
    and (ids is null or e.id = any(ids))
  order by e.received_at, e.id
  limit max_rows
$$;
revoke execute on function public.clerk_sync_failed_events(timestamptz, text[], integer) from public, anon, authenticated;
grant execute on function public.clerk_sync_failed_events(timestamptz, text[], integer) to service_role;

-- Ledger health for `clerk-sync doctor`: failed events and the time of the last applied event.
create or replace function public.clerk_sync_ledger_status()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'failed', (select count(*) from clerk_sync.events where status = 'failed'),
    'last_applied_at', (select max(received_at) from clerk_sync.events where status = 'applied'))
$$;
revoke execute on function public.clerk_sync_ledger_status() from public, anon, authenticated;
grant execute on function public.clerk_sync_ledger_status() to service_role;

-- Deletes applied and stale ledger rows older than `older_than` (failed ones stay for replay).
-- Keep at least a few days: Svix retries for ~28 h, and the ledger is what makes those retries no-ops.
create or replace function public.clerk_sync_prune_ledger(older_than interval default '7 days')
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_count bigint;
begin
  delete from clerk_sync.events where status <> 'failed' and received_at < now() - older_than;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
revoke execute on function public.clerk_sync_prune_ledger(interval) from public, anon, authenticated;
grant execute on function public.clerk_sync_prune_ledger(interval) to service_role;

-- The private_metadata of a user, organization or membership (service role only).
create or replace function public.clerk_sync_private_metadata(kind text, id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select m.data from clerk_sync.private_metadata m where m.kind = $1 and m.id = $2
$$;
revoke execute on function public.clerk_sync_private_metadata(text, text) from public, anon, authenticated;
grant execute on function public.clerk_sync_private_metadata(text, text) to service_role;
