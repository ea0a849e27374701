-- clerk-supabase-sync: one SQL path for every kind. The caller (src/core/kinds.ts, the registry of
-- kinds) says which kind an event is about and what it does — `upsert` or `delete` — so nothing here
-- parses an event type. Every writer goes through one upsert and one delete:
--
--   clerk_sync_apply_event(…, kind, op, data, …)   a webhook event: lock → ledger → upsert or delete
--   clerk_sync_upsert(kind, rows)                   a batch, newest wins
--   clerk_sync_delete(kind, ids)                    a batch of deletes, for good
--   clerk_sync_backfill_page(kind, …)               a backfill page: the same upsert, plus the checkpoint
--
-- What every kind shares is written once: the locks (clerk_sync.lock_rows / lock_ids), the
-- classification of each row against tombstones and the stored version (clerk_sync.classify: newest
-- `updated_at` wins; equal ones are ordered by event time and digest, see the reliability
-- migration), the version and private metadata (clerk_sync.private_metadata), the counts, the
-- tombstones. What differs per kind is a static statement per table — its column list written
-- once — chosen by a CASE with no ELSE: a kind this database does not know raises
-- (`case_not_found`), it is never sent to another kind's table.
--
-- This migration re-creates every function the sync uses, so a database migrated before any earlier
-- function body changed converges on the current ones.

-- ============================================================================================
-- The old per-kind entry points and internals (replaced below)
-- ============================================================================================

drop function public.clerk_sync_upsert_users(jsonb);
drop function public.clerk_sync_upsert_organizations(jsonb);
drop function public.clerk_sync_upsert_memberships(jsonb);
drop function public.clerk_sync_delete_users(text[]);
drop function public.clerk_sync_delete_organizations(text[]);
drop function public.clerk_sync_delete_memberships(text[]);
drop function public.clerk_sync_apply_event(text, text, jsonb, timestamptz, text, jsonb, text, text);
drop function clerk_sync.upsert_users(jsonb, timestamptz);
drop function clerk_sync.upsert_organizations(jsonb, timestamptz);
drop function clerk_sync.upsert_memberships(jsonb, timestamptz);
drop function clerk_sync.delete_users(text[]);
drop function clerk_sync.delete_organizations(text[]);
drop function clerk_sync.delete_memberships(text[]);

-- ============================================================================================
-- What is known per kind
-- ============================================================================================

-- The objects a row of `p_kind` depends on (a membership: its organization and user): locked shared
-- while it is written, and a tombstone of any of them refuses it.
create or replace function clerk_sync.parents(p_kind text, p_row jsonb)
returns table (kind text, id text)
language sql
immutable
as $$
  select p.kind, p_row ->> p.field
  from (values ('membership', 'organization', 'organization_id'),
               ('membership', 'user', 'user_id')) p(child, kind, field)
  where p.child = p_kind and p_row ->> p.field is not null
$$;

-- The `updated_at` of the stored rows of `p_kind` among `p_ids`.
create or replace function clerk_sync.stored(p_kind text, p_ids text[])
returns table (id text, updated_at timestamptz)
language plpgsql
stable
as $$
begin
  case p_kind
    when 'user' then
      return query select t.id, t.updated_at from public.users_public t where t.id = any(p_ids);
    when 'organization' then
      return query select t.id, t.updated_at from public.organizations t where t.id = any(p_ids);
    when 'membership' then
      return query select t.id, t.updated_at from public.organization_memberships t where t.id = any(p_ids);
  end case;
end;
$$;

-- Every mirrored object of `p_kind`, with the pair a membership links (prune candidates).
create or replace function clerk_sync.mirrored(p_kind text)
returns table (id text, organization_id text, user_id text, created_at timestamptz)
language plpgsql
stable
as $$
begin
  case p_kind
    when 'user' then
      return query select t.id, null::text, null::text, t.created_at from public.users_public t;
    when 'organization' then
      return query select t.id, null::text, null::text, t.created_at from public.organizations t;
    when 'membership' then
      return query select t.id, t.organization_id, t.user_id, t.created_at from public.organization_memberships t;
  end case;
end;
$$;

-- The user an object's personal data belongs to (a user: itself; a membership: its member, read
-- back from the stored row when a delete carries only the id), for the ledger's erasure.
create or replace function clerk_sync.owner(p_kind text, p_id text, p_data jsonb)
returns text
language plpgsql
stable
as $$
begin
  case p_kind
    when 'user' then return p_id;
    when 'organization' then return null;
    when 'membership' then
      return coalesce(p_data ->> 'user_id',
                      (select m.user_id from public.organization_memberships m where m.id = p_id));
  end case;
end;
$$;

-- Writes users, newest version only (rows come classified `apply`); returns each user's id and
-- whether it was inserted. Each table's columns are listed once, in the table's order.
create or replace function clerk_sync.write_users(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  with pub as (
    insert into public.users_public as t
    select * from jsonb_populate_recordset(null::public.users_public, p_rows)
    on conflict (id) do update
      set (id, username, first_name, last_name, image_url, created_at, updated_at) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
    returning t.id, (t.xmax = 0) as inserted
  ), priv as (
    insert into public.users_private as t
    select * from jsonb_populate_recordset(null::public.users_private, p_rows)
    on conflict (id) do update
      set (id, email, phone, external_id, public_metadata, unsafe_metadata, last_sign_in_at, banned, locked,
           created_at, updated_at, attrs) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
  )
  select pub.id, pub.inserted from pub
$$;

-- Writes organizations, newest version only.
create or replace function clerk_sync.write_organizations(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  insert into public.organizations as t
  select * from jsonb_populate_recordset(null::public.organizations, p_rows)
  on conflict (id) do update
    set (id, name, slug, image_url, public_metadata, created_by, created_at, updated_at, attrs) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted
$$;

-- Writes memberships, newest version only.
create or replace function clerk_sync.write_memberships(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  insert into public.organization_memberships as t
  select * from jsonb_populate_recordset(null::public.organization_memberships, p_rows)
  on conflict (id) do update
    set (id, organization_id, user_id, role, permissions, public_metadata, created_at, updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted
$$;

-- Removes users with their personal data everywhere (their memberships, failed ledger payloads);
-- returns how many users were removed.
create or replace function clerk_sync.remove_users(p_ids text[])
returns bigint
language sql
volatile
as $$
  with pub as (
    delete from public.users_public where id = any(p_ids) returning id
  ), priv as (
    delete from public.users_private where id = any(p_ids)
  ), mem as (
    delete from public.organization_memberships where user_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata where kind = 'membership' and id in (select id from mem)
  ), ledger as (
    -- Erasure: failed payloads (parsed or raw) are the only place the ledger keeps personal data.
    update clerk_sync.events
    set payload = null, payload_raw = null, error = coalesce(error, '') || ' (payload erased: user deleted)'
    where (payload is not null or payload_raw is not null) and (user_id = any(p_ids) or object_id = any(p_ids))
  )
  select count(*) from pub
$$;

-- Removes organizations with their memberships; returns how many organizations were removed.
create or replace function clerk_sync.remove_organizations(p_ids text[])
returns bigint
language sql
volatile
as $$
  with org as (
    delete from public.organizations where id = any(p_ids) returning id
  ), mem as (
    delete from public.organization_memberships where organization_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata where kind = 'membership' and id in (select id from mem)
  )
  select count(*) from org
$$;

-- Removes memberships; returns how many were removed.
create or replace function clerk_sync.remove_memberships(p_ids text[])
returns bigint
language sql
volatile
as $$
  with mem as (
    delete from public.organization_memberships where id = any(p_ids) returning id
  )
  select count(*) from mem
$$;

-- ============================================================================================
-- What every kind shares (internal: the caller holds the locks)
-- ============================================================================================

-- Locks the objects a batch of rows writes: each row's own object exclusively, its parents shared
-- (so a concurrent delete of either waits), in key order.
create or replace function clerk_sync.lock_rows(p_kind text, p_rows jsonb)
returns void
language sql
volatile
as $$
  select clerk_sync.lock_objects(
    array(select clerk_sync.object_key(p_kind, r ->> 'id') from jsonb_array_elements(p_rows) r),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(p_rows) r cross join lateral clerk_sync.parents(p_kind, r) p))
$$;

-- Each row's state against the mirror: `deleted` (it or a parent has a tombstone), `apply` (newer
-- than the stored version, or none is stored), `unchanged` (the same version) or `stale` (older).
-- Newest `updated_at` wins; equal ones are ordered by (event time, digest), so two versions with the
-- same `updated_at` end in the same state whatever their arrival order. Of several rows with one id
-- in a batch, the newest is taken.
create or replace function clerk_sync.classify(p_kind text, p_rows jsonb, p_event_at timestamptz)
returns table (id text, state text, stored_at timestamptz, updated_at timestamptz, digest text, r jsonb)
language sql
stable
as $$
  with input as (
    select distinct on (e ->> 'id') e ->> 'id' as id, (e ->> 'updated_at')::timestamptz as updated_at,
      md5(e::text) as digest, e as r
    from jsonb_array_elements(p_rows) e
    order by e ->> 'id', (e ->> 'updated_at')::timestamptz desc, md5(e::text) desc
  )
  select i.id, case
      when exists (select 1 from clerk_sync.tombstones t where t.kind = p_kind and t.id = i.id)
        or exists (select 1 from clerk_sync.parents(p_kind, i.r) p
                   join clerk_sync.tombstones t on t.kind = p.kind and t.id = p.id) then 'deleted'
      when s.updated_at is null or s.updated_at < i.updated_at then 'apply'
      when s.updated_at > i.updated_at then 'stale'
      when v.digest = i.digest or (v.digest is null and p_event_at is null) then 'unchanged'
      when (coalesce(p_event_at, '-infinity'), i.digest)
         > (coalesce(v.event_at, '-infinity'), coalesce(v.digest, '')) then 'apply'
      else 'stale' end,
    s.updated_at, i.updated_at, i.digest, i.r
  from input i
  left join clerk_sync.stored(p_kind, array(select input.id from input)) s on s.id = i.id
  -- One index probe per row: as a join, the planner hashes the whole table while it is small.
  left join lateral (
    select m.event_at, m.digest from clerk_sync.private_metadata m where m.kind = p_kind and m.id = i.id offset 0
  ) v on true
$$;

-- Writes the newest versions of rows of `p_kind` (classified `apply`) into the kind's tables;
-- returns each id and whether it was inserted.
create or replace function clerk_sync.write(p_kind text, p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
begin
  case p_kind
    when 'user' then return query select * from clerk_sync.write_users(p_rows);
    when 'organization' then return query select * from clerk_sync.write_organizations(p_rows);
    when 'membership' then return query select * from clerk_sync.write_memberships(p_rows);
  end case;
end;
$$;

-- Upserts a batch of rows of `p_kind`: newest version wins, tombstones hold. Writes the kind's
-- tables and, beside them, the private metadata and version; returns {inserted, updated,
-- unchanged, stale, deleted}. `p_event_at`: the webhook's event time (a backfill has none).
create or replace function clerk_sync.upsert(p_kind text, p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language sql
volatile
as $$
  with c as materialized (
    select * from clerk_sync.classify(p_kind, p_rows, p_event_at)
  ), w as materialized (
    select * from clerk_sync.write(p_kind, (select coalesce(jsonb_agg(c.r), '[]') from c where c.state = 'apply'))
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at, event_at, digest)
    select p_kind, c.id, coalesce(c.r -> 'private_metadata', '{}'), c.updated_at, p_event_at, c.digest
    from c where c.state = 'apply'
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at,
      event_at = excluded.event_at, digest = excluded.digest
    where m.updated_at <= excluded.updated_at
  )
  select jsonb_build_object(
    'inserted', count(*) filter (where w.inserted),
    'updated', count(*) filter (where w.id is not null and not w.inserted),
    'unchanged', count(*) filter (where w.id is null and c.state in ('unchanged', 'apply')),
    'stale', count(*) filter (where w.id is null and c.state = 'stale'),
    'deleted', count(*) filter (where c.state = 'deleted'))
  from c left join w on w.id = c.id
$$;

-- Deletes objects of `p_kind` for good: removes them (and what goes with them), drops their private
-- metadata and leaves tombstones; returns {deleted, tombstoned}.
create or replace function clerk_sync.delete(p_kind text, p_ids text[])
returns jsonb
language plpgsql
volatile
as $$
declare
  v_deleted bigint;
  v_tombstoned bigint;
begin
  case p_kind
    when 'user' then v_deleted := clerk_sync.remove_users(p_ids);
    when 'organization' then v_deleted := clerk_sync.remove_organizations(p_ids);
    when 'membership' then v_deleted := clerk_sync.remove_memberships(p_ids);
  end case;
  delete from clerk_sync.private_metadata m where m.kind = p_kind and m.id = any(p_ids);
  with tomb as (
    insert into clerk_sync.tombstones (kind, id) select p_kind, unnest(p_ids)
    on conflict do nothing
    returning 1
  )
  select count(*) into v_tombstoned from tomb;
  return jsonb_build_object('deleted', v_deleted, 'tombstoned', v_tombstoned);
end;
$$;

revoke all on all functions in schema clerk_sync from public;

-- ============================================================================================
-- Entry points (service role only)
-- ============================================================================================

-- Upserts a batch of rows of `kind`, newest `updated_at` wins; returns {inserted, updated, unchanged,
-- stale, deleted}.
create function public.clerk_sync_upsert(kind text, rows jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_rows($1, $2);
  return clerk_sync.upsert($1, $2);
end;
$$;
revoke execute on function public.clerk_sync_upsert(text, jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_upsert(text, jsonb) to service_role;

-- Deletes objects of `kind` (and what goes with them) for good; returns {deleted, tombstoned}.
create function public.clerk_sync_delete(kind text, ids text[])
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform clerk_sync.lock_ids($1, $2);
  return clerk_sync.delete($1, $2);
end;
$$;
revoke execute on function public.clerk_sync_delete(text, text[]) from public, anon, authenticated;
grant execute on function public.clerk_sync_delete(text, text[]) to service_role;

-- Applies one webhook event atomically and records it; returns 'applied', 'duplicate', 'stale' or
-- 'failed'. `kind` and `op` ('upsert' or 'delete') say what the event does; `data` is the mapped row
-- (upserts) or the delete key ({"id": …}, a membership's organization and user when sent). A payload
-- that could not be applied comes with `failure` and its `reason` class and is stored as failed for
-- `clerk-sync replay`: as jsonb (`payload`), or as the delivered bytes (`payload_hex`) when jsonb
-- cannot hold it; `data` then carries the object and user ids the caller read from it, so that a
-- user's deletion still erases it. `occurred_at` (the envelope's timestamp) breaks ties between
-- versions with the same updated_at.
create function public.clerk_sync_apply_event(
  event_id text,
  event_type text,
  kind text default null,
  op text default null,
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
  v_user text;
  v_prior text;
  v_result jsonb;
  v_status text;
  v_payload jsonb := payload;
  -- The delivered bytes travel as hex text: every transport passes text the same way.
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

  v_user := clerk_sync.owner(kind, v_object, data);
  perform clerk_sync.lock_rows(kind, jsonb_build_array(data));

  -- Idempotency and the ledger row in one statement: the locks above serialize deliveries of the
  -- same object, so a concurrent duplicate waits, then finds the row and gets no id back. A failed
  -- event being replayed is taken over; the status is corrected below if the event is stale.
  insert into clerk_sync.events as e (id, type, object_id, user_id, status, occurred_at)
  values (event_id, event_type, v_object, v_user, 'applied', occurred_at)
  on conflict (id) do update set status = excluded.status, error = null, reason = null, payload = null,
    payload_raw = null, received_at = now()
  where e.status = 'failed'
  returning e.id into v_prior;
  if v_prior is null then
    return 'duplicate';
  end if;

  case op
    when 'upsert' then v_result := clerk_sync.upsert(kind, jsonb_build_array(data), occurred_at);
    when 'delete' then v_result := clerk_sync.delete(kind, array[v_object]);
  end case;

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
revoke execute on function public.clerk_sync_apply_event(text, text, text, text, jsonb, timestamptz, text, jsonb, text, text)
  from public, anon, authenticated;
grant execute on function public.clerk_sync_apply_event(text, text, text, text, jsonb, timestamptz, text, jsonb, text, text)
  to service_role;

-- ============================================================================================
-- Backfill: the same upsert, and per kind the rows a pass did not see
-- ============================================================================================

-- Applies one page of a pass with the webhook upsert rules, records the ids it saw and moves the
-- checkpoint past it — all in one transaction, so a killed run resumes exactly after its last page.
create or replace function public.clerk_sync_backfill_page(kind text, pass_id text, next_offset integer, rows jsonb, last_id text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_pass clerk_sync.backfill_passes;
  v_result jsonb;
begin
  select * into v_pass from clerk_sync.backfill_passes p where p.kind = $1 and p.pass_id = $2 for update;
  if not found then
    raise exception 'clerk_sync_backfill_page: pass % of % is not the current one (another backfill restarted it)', $2, $1
      using errcode = '55000';
  end if;

  perform clerk_sync.lock_rows($1, $4);
  v_result := clerk_sync.upsert($1, $4);

  if v_pass.track_seen then
    insert into clerk_sync.backfill_seen as s (kind, id, pass_id)
    select $1, r ->> 'id', $2 from jsonb_array_elements($4) r
    on conflict on constraint backfill_seen_pkey do update set pass_id = excluded.pass_id;
  end if;
  update clerk_sync.backfill_passes p set next_offset = $3, last_id = $5 where p.kind = $1;
  return v_result;
end;
$$;

-- What a page would change, without writing: the upsert's own classification, counted (dry run).
create or replace function public.clerk_sync_backfill_compare(kind text, rows jsonb)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'inserted', count(*) filter (where c.state = 'apply' and c.stored_at is null),
    'updated', count(*) filter (where c.state = 'apply' and c.stored_at is not null),
    'unchanged', count(*) filter (where c.state = 'unchanged'),
    'stale', count(*) filter (where c.state = 'stale'),
    'deleted', count(*) filter (where c.state = 'deleted'))
  from clerk_sync.classify($1, $2, null) c
$$;

-- Mirror rows of `kind` created before the pass started that the pass did not see (in
-- clerk_sync.backfill_seen, or in `seen` for dry runs, which record nothing). Candidates only:
-- offset paging can skip an object deleted mid-pass, so the CLI confirms each with Clerk first.
create or replace function public.clerk_sync_backfill_unseen(
  kind text, pass_id text default null, seen text[] default null, started_at timestamptz default null)
returns table (id text, organization_id text, user_id text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_track boolean := false;
  v_started timestamptz := $4;
begin
  if $2 is not null then
    select p.track_seen, p.started_at into v_track, v_started
    from clerk_sync.backfill_passes p where p.kind = $1 and p.pass_id = $2;
  end if;
  if v_started is null or not (v_track or $3 is not null) then
    raise exception 'clerk_sync_backfill_unseen: pass % of % recorded no ids', $2, $1 using errcode = '55000';
  end if;
  return query
    select m.id, m.organization_id, m.user_id from clerk_sync.mirrored($1) m
    where m.created_at < v_started
      and not (v_track and exists (
        select 1 from clerk_sync.backfill_seen s where s.kind = $1 and s.id = m.id and s.pass_id = $2))
      and not (m.id = any(coalesce($3, '{}')))
    order by m.id;
end;
$$;

-- The schema version this database is at; `GET /healthz` compares it with the code's.
create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202200000'::text
$$;
