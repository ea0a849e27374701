-- clerk-supabase-sync: reliability. Errors raised on purpose for bad content get their own
-- SQLSTATE; two versions of an object with the same `updated_at` end in the same state whatever
-- their arrival order; a membership delete needs only the id; a failed event is stored whole
-- (its raw bytes when jsonb cannot hold it) with a reason class; failed events can be discarded.
--
-- Bad content, raised on purpose: SQLSTATE 22Z01 (class 22, "data exception", with an
-- implementation-defined subclass — the SQL standard leaves subclasses starting I–Z to
-- implementations, and Postgres uses none starting with Z). The receiver treats class 22 and 23
-- errors as final (the event is stored as failed and acknowledged) and everything else as
-- retryable; 22Z01 lets it name the reason `sync_refused`.
--
-- Ties: an upsert applies when (updated_at, event time, digest) is greater than the stored
-- version's, compared as a row. The event time is the webhook envelope's `timestamp`
-- (occurred_at; a backfill row has none and sorts lowest); the digest is md5 of the row as jsonb
-- text (jsonb's text form is canonical: keys sorted, no whitespace), so two different versions
-- with the same updated_at and event time still order the same way everywhere. Equal updated_at
-- and equal digest is the same version: `unchanged`. The version is kept beside the private
-- metadata (one service-only row per object, written by the same statement).

-- ============================================================================================
-- Tables
-- ============================================================================================

-- The version of the row applied last: the event time and digest of the tie-break above.
alter table clerk_sync.private_metadata
  add column event_at timestamptz,
  add column digest text;

-- The reason class of a failed event (no personal data: one of a short list), and its raw bytes
-- when jsonb cannot hold the payload (a \u0000 escape, nesting deeper than jsonb parses, not JSON).
-- `discarded`: a failed event an operator dropped on purpose (`clerk-sync replay --discard`).
alter table clerk_sync.events
  add column reason text,
  add column payload_raw bytea,
  drop constraint events_status_check,
  add constraint events_status_check check (status in ('applied', 'stale', 'failed', 'discarded'));
create index events_object_raw_idx on clerk_sync.events (object_id) where payload_raw is not null;
create index events_user_raw_idx on clerk_sync.events (user_id) where payload_raw is not null;

-- ============================================================================================
-- Upserts with deterministic ties (internal; the caller holds the locks, as before)
-- ============================================================================================

drop function clerk_sync.upsert_users(jsonb);
drop function clerk_sync.upsert_organizations(jsonb);
drop function clerk_sync.upsert_memberships(jsonb);

-- Upserts users (public row, private row, private metadata and version); caller holds the locks.
create function clerk_sync.upsert_users(p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*, md5(e::text) as digest
    from jsonb_array_elements(p_rows) e
    cross join lateral jsonb_to_record(e) as r(
      id text, username text, first_name text, last_name text, image_url text,
      email text, phone text, external_id text, public_metadata jsonb, unsafe_metadata jsonb,
      private_metadata jsonb, last_sign_in_at timestamptz, banned boolean, locked boolean,
      created_at timestamptz, updated_at timestamptz, attrs jsonb)
    order by r.id, r.updated_at desc, md5(e::text) desc
  ), classified as (
    select i.*, case
        when exists (select 1 from clerk_sync.tombstones t where t.kind = 'user' and t.id = i.id) then 'deleted'
        when u.updated_at is null or u.updated_at < i.updated_at then 'apply'
        when u.updated_at > i.updated_at then 'stale'
        when v.digest = i.digest or (v.digest is null and p_event_at is null) then 'unchanged'
        when (coalesce(p_event_at, '-infinity'), i.digest)
           > (coalesce(v.event_at, '-infinity'), coalesce(v.digest, '')) then 'apply'
        else 'stale' end as state
    from input i
    -- One index probe per input row (see the first version of this function for why `offset 0`).
    left join lateral (select u.updated_at from public.users_public u where u.id = i.id offset 0) u on true
    left join lateral (
      select m.event_at, m.digest from clerk_sync.private_metadata m where m.kind = 'user' and m.id = i.id offset 0
    ) v on true
  ), pub as (
    insert into public.users_public as u (id, username, first_name, last_name, image_url, created_at, updated_at)
    select id, username, first_name, last_name, image_url, created_at, updated_at
    from classified where state = 'apply'
    on conflict (id) do update set
      username = excluded.username, first_name = excluded.first_name, last_name = excluded.last_name,
      image_url = excluded.image_url, created_at = excluded.created_at, updated_at = excluded.updated_at
    where u.updated_at <= excluded.updated_at
    returning u.id, (u.xmax = 0) as inserted
  ), priv as (
    insert into public.users_private as p (id, email, phone, external_id, public_metadata, unsafe_metadata,
      last_sign_in_at, banned, locked, created_at, updated_at, attrs)
    select id, email, phone, external_id, coalesce(public_metadata, '{}'), coalesce(unsafe_metadata, '{}'),
      last_sign_in_at, coalesce(banned, false), coalesce(locked, false), created_at, updated_at,
      coalesce(attrs, '{}')
    from classified where state = 'apply'
    on conflict (id) do update set
      email = excluded.email, phone = excluded.phone, external_id = excluded.external_id,
      public_metadata = excluded.public_metadata, unsafe_metadata = excluded.unsafe_metadata,
      last_sign_in_at = excluded.last_sign_in_at, banned = excluded.banned, locked = excluded.locked,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where p.updated_at <= excluded.updated_at
    returning p.id
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at, event_at, digest)
    select 'user', id, coalesce(private_metadata, '{}'), updated_at, p_event_at, digest
    from classified where state = 'apply'
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at,
      event_at = excluded.event_at, digest = excluded.digest
    where m.updated_at <= excluded.updated_at
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

-- Upserts organizations (row, private metadata and version); caller holds the locks.
create function clerk_sync.upsert_organizations(p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*, md5(e::text) as digest
    from jsonb_array_elements(p_rows) e
    cross join lateral jsonb_to_record(e) as r(
      id text, name text, slug text, image_url text, public_metadata jsonb, private_metadata jsonb,
      created_by text, created_at timestamptz, updated_at timestamptz, attrs jsonb)
    order by r.id, r.updated_at desc, md5(e::text) desc
  ), classified as (
    select i.*, case
        when exists (select 1 from clerk_sync.tombstones t where t.kind = 'organization' and t.id = i.id) then 'deleted'
        when o.updated_at is null or o.updated_at < i.updated_at then 'apply'
        when o.updated_at > i.updated_at then 'stale'
        when v.digest = i.digest or (v.digest is null and p_event_at is null) then 'unchanged'
        when (coalesce(p_event_at, '-infinity'), i.digest)
           > (coalesce(v.event_at, '-infinity'), coalesce(v.digest, '')) then 'apply'
        else 'stale' end as state
    from input i
    left join lateral (select o.updated_at from public.organizations o where o.id = i.id offset 0) o on true
    left join lateral (
      select m.event_at, m.digest from clerk_sync.private_metadata m
      where m.kind = 'organization' and m.id = i.id offset 0
    ) v on true
  ), org as (
    insert into public.organizations as o (id, name, slug, image_url, public_metadata, created_by,
      created_at, updated_at, attrs)
    select id, name, slug, image_url, coalesce(public_metadata, '{}'), created_by, created_at, updated_at,
      coalesce(attrs, '{}')
    from classified where state = 'apply'
    on conflict (id) do update set
      name = excluded.name, slug = excluded.slug, image_url = excluded.image_url,
      public_metadata = excluded.public_metadata, created_by = excluded.created_by,
      created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs
    where o.updated_at <= excluded.updated_at
    returning o.id, (o.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at, event_at, digest)
    select 'organization', id, coalesce(private_metadata, '{}'), updated_at, p_event_at, digest
    from classified where state = 'apply'
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at,
      event_at = excluded.event_at, digest = excluded.digest
    where m.updated_at <= excluded.updated_at
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

-- Upserts memberships (row, private metadata and version); a membership of a deleted user or
-- organization is refused like a deleted membership. Caller holds the locks.
create function clerk_sync.upsert_memberships(p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  v_result jsonb;
begin
  with input as (
    select distinct on (r.id) r.*, md5(e::text) as digest
    from jsonb_array_elements(p_rows) e
    cross join lateral jsonb_to_record(e) as r(
      id text, organization_id text, user_id text, role text, permissions text[], public_metadata jsonb,
      private_metadata jsonb, created_at timestamptz, updated_at timestamptz)
    order by r.id, r.updated_at desc, md5(e::text) desc
  ), classified as (
    select i.*, case
        when exists (
          select 1 from clerk_sync.tombstones t
          where (t.kind, t.id) in (('membership', i.id), ('organization', i.organization_id), ('user', i.user_id))
        ) then 'deleted'
        when m.updated_at is null or m.updated_at < i.updated_at then 'apply'
        when m.updated_at > i.updated_at then 'stale'
        when v.digest = i.digest or (v.digest is null and p_event_at is null) then 'unchanged'
        when (coalesce(p_event_at, '-infinity'), i.digest)
           > (coalesce(v.event_at, '-infinity'), coalesce(v.digest, '')) then 'apply'
        else 'stale' end as state
    from input i
    left join lateral (select m.updated_at from public.organization_memberships m where m.id = i.id offset 0) m on true
    left join lateral (
      select pm.event_at, pm.digest from clerk_sync.private_metadata pm
      where pm.kind = 'membership' and pm.id = i.id offset 0
    ) v on true
  ), mem as (
    insert into public.organization_memberships as m (id, organization_id, user_id, role, permissions,
      public_metadata, created_at, updated_at)
    select id, organization_id, user_id, role, coalesce(permissions, '{}'), coalesce(public_metadata, '{}'),
      created_at, updated_at
    from classified where state = 'apply'
    on conflict (id) do update set
      organization_id = excluded.organization_id, user_id = excluded.user_id, role = excluded.role,
      permissions = excluded.permissions, public_metadata = excluded.public_metadata,
      created_at = excluded.created_at, updated_at = excluded.updated_at
    where m.updated_at <= excluded.updated_at
    returning m.id, (m.xmax = 0) as inserted
  ), meta as (
    insert into clerk_sync.private_metadata as pm (kind, id, data, updated_at, event_at, digest)
    select 'membership', id, coalesce(private_metadata, '{}'), updated_at, p_event_at, digest
    from classified where state = 'apply'
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at,
      event_at = excluded.event_at, digest = excluded.digest
    where pm.updated_at <= excluded.updated_at
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
    -- Erasure: failed payloads (parsed or raw) are the only place the ledger keeps personal data.
    update clerk_sync.events
    set payload = null, payload_raw = null, error = coalesce(error, '') || ' (payload erased: user deleted)'
    where (payload is not null or payload_raw is not null) and (user_id = any(p_ids) or object_id = any(p_ids))
  )
  select jsonb_build_object('deleted', (select count(*) from pub), 'tombstoned', (select count(*) from tomb))
  into v_result;
  return v_result;
end;
$$;

revoke all on all functions in schema clerk_sync from public;

-- ============================================================================================
-- The webhook entry point
-- ============================================================================================

drop function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb);

-- Applies one webhook event atomically and records it; returns 'applied', 'duplicate', 'stale' or
-- 'failed'. `data` is the mapped row (upserts) or {"id": …} (deletes; a membership delete may omit
-- its organization and user, read back from the stored row). A payload that could not be applied
-- comes with `failure` and its `reason` class and is stored as failed for `clerk-sync replay`: as
-- jsonb (`payload`), or as the delivered bytes (`payload_hex`) when jsonb cannot hold it (a \u0000
-- escape, nesting deeper than jsonb parses, not JSON); `data` then carries the object and user ids
-- the caller read from it, so that a user's deletion still erases it.
-- `occurred_at` (the envelope's timestamp) breaks ties between versions with the same updated_at.
create function public.clerk_sync_apply_event(
  event_id text,
  event_type text,
  data jsonb default null,
  occurred_at timestamptz default null,
  failure text default null,
  payload jsonb default null,
  reason text default null,
  payload_hex text default null
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
  v_org text;
  v_prior text;
  v_result jsonb;
  v_status text;
  v_payload jsonb := payload;
  -- The delivered bytes travel as hex text: every transport (node-postgres, PGlite, PostgREST's
  -- JSON arguments) passes text the same way, and text cannot hold a NUL byte.
  v_raw bytea := pg_catalog.decode(payload_hex, 'hex');
begin
  if event_id is null or event_id = '' then
    raise exception 'clerk_sync_apply_event: event_id is required' using errcode = '22Z01';
  end if;

  if failure is not null then
    v_object := coalesce(v_payload #>> '{data,id}', data ->> 'id');
    v_user := coalesce(v_payload #>> '{data,public_user_data,user_id}', data ->> 'user_id',
                       case when event_type like 'user.%' then v_object end);
    -- Never keep personal data of a user who is already deleted.
    if exists (select 1 from clerk_sync.tombstones t where t.kind = 'user' and t.id = v_user) then
      v_payload := null;
      v_raw := null;
    end if;
    insert into clerk_sync.events as e (id, type, object_id, user_id, status, error, reason, payload,
      payload_raw, occurred_at)
    values (event_id, event_type, v_object, v_user, 'failed', failure, reason, v_payload,
            v_raw, occurred_at)
    on conflict (id) do update set error = excluded.error, reason = excluded.reason, received_at = now()
    where e.status = 'failed'
    returning e.id into v_prior;
    return case when v_prior is null then 'duplicate' else 'failed' end;
  end if;

  if v_object is null then
    raise exception 'clerk_sync_apply_event: data.id is required for %', event_type using errcode = '22Z01';
  end if;

  v_kind := case split_part(event_type, '.', 1)
    when 'user' then 'user'
    when 'organization' then 'organization'
    when 'organizationMembership' then 'membership'
  end;
  if v_kind is null or split_part(event_type, '.', 2) not in ('created', 'updated', 'deleted') then
    raise exception 'clerk_sync_apply_event: unsupported event type %', event_type using errcode = '22Z01';
  end if;
  if v_kind = 'membership' then
    v_org := data ->> 'organization_id';
    v_user := data ->> 'user_id';
    if event_type = 'organizationMembership.deleted' and (v_org is null or v_user is null) then
      -- A delete needs only the id: the pair (for the locks and the ledger) is the stored row's.
      v_org := coalesce(v_org, (select m.organization_id from public.organization_memberships m where m.id = v_object));
      v_user := coalesce(v_user, (select m.user_id from public.organization_memberships m where m.id = v_object));
    end if;
    perform clerk_sync.lock_objects(
      array[pg_catalog.hashtextextended('membership:' || v_object, 0)],
      array[pg_catalog.hashtextextended('organization:' || v_org, 0),
            pg_catalog.hashtextextended('user:' || v_user, 0)]);
  else
    v_user := case v_kind when 'user' then v_object end;
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(v_kind || ':' || v_object, 0));
  end if;

  -- Idempotency and the ledger row in one statement (see the first version of this function).
  insert into clerk_sync.events as e (id, type, object_id, user_id, status, occurred_at)
  values (event_id, event_type, v_object, v_user, 'applied', occurred_at)
  on conflict (id) do update set status = excluded.status, error = null, reason = null, payload = null,
    payload_raw = null, received_at = now()
  where e.status = 'failed'
  returning e.id into v_prior;
  if v_prior is null then
    return 'duplicate';
  end if;

  v_result := case event_type
    when 'user.created' then clerk_sync.upsert_users(jsonb_build_array(data), occurred_at)
    when 'user.updated' then clerk_sync.upsert_users(jsonb_build_array(data), occurred_at)
    when 'user.deleted' then clerk_sync.delete_users(array[v_object])
    when 'organization.created' then clerk_sync.upsert_organizations(jsonb_build_array(data), occurred_at)
    when 'organization.updated' then clerk_sync.upsert_organizations(jsonb_build_array(data), occurred_at)
    when 'organization.deleted' then clerk_sync.delete_organizations(array[v_object])
    when 'organizationMembership.deleted' then clerk_sync.delete_memberships(array[v_object])
    else clerk_sync.upsert_memberships(jsonb_build_array(data), occurred_at)
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
revoke execute on function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb, text, text)
  from public, anon, authenticated;
grant execute on function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb, text, text)
  to service_role;

-- ============================================================================================
-- Operations: failed events, discards, ledger status, schema version
-- ============================================================================================

drop function public.clerk_sync_failed_events(timestamptz, text[], integer);

-- Ledger events stored as failed, oldest first, for `clerk-sync replay`. `payload_hex` is set
-- when the payload is kept as the delivered bytes rather than as jsonb.
create function public.clerk_sync_failed_events(
  since timestamptz default null,
  ids text[] default null,
  max_rows integer default 500
)
returns table (id text, type text, payload jsonb, payload_hex text, error text, reason text,
  occurred_at timestamptz, received_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
  select e.id, e.type, e.payload, pg_catalog.encode(e.payload_raw, 'hex'), e.error, e.reason, e.occurred_at,
    e.received_at
  from clerk_sync.events e
  where e.status = 'failed'
    and (since is null or e.received_at >= since)
    and (ids is null or e.id = any(ids))
  order by e.received_at, e.id
  limit max_rows
$$;
revoke execute on function public.clerk_sync_failed_events(timestamptz, text[], integer) from public, anon, authenticated;
grant execute on function public.clerk_sync_failed_events(timestamptz, text[], integer) to service_role;

-- Discards failed events on purpose (their content can never apply): they keep their ledger row,
-- so a retry of the same svix-id stays a duplicate, lose their payload, and no longer count as
-- failed. Returns the ids discarded.
create or replace function public.clerk_sync_discard_events(ids text[])
returns setof text
language sql
volatile
security definer
set search_path = ''
as $$
  update clerk_sync.events e
  set status = 'discarded', payload = null, payload_raw = null
  where e.status = 'failed' and e.id = any(ids)
  returning e.id
$$;
revoke execute on function public.clerk_sync_discard_events(text[]) from public, anon, authenticated;
grant execute on function public.clerk_sync_discard_events(text[]) to service_role;

-- Ledger health for `clerk-sync doctor`: failed events (in all and by reason class), discarded
-- ones, and the time of the last applied event.
create or replace function public.clerk_sync_ledger_status()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'failed', (select count(*) from clerk_sync.events where status = 'failed'),
    'failed_by_reason', (
      select coalesce(jsonb_object_agg(r.reason, r.n), '{}')
      from (select coalesce(e.reason, 'unclassified') as reason, count(*) as n
            from clerk_sync.events e where e.status = 'failed' group by 1) r),
    'discarded', (select count(*) from clerk_sync.events where status = 'discarded'),
    'last_applied_at', (select max(received_at) from clerk_sync.events where status = 'applied'))
$$;
revoke execute on function public.clerk_sync_ledger_status() from public, anon, authenticated;
grant execute on function public.clerk_sync_ledger_status() to service_role;

-- The schema version this database is at; `GET /healthz` compares it with the code's.
create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202100000'::text
$$;
