-- clerk-supabase-sync: backfill state — resumable passes, the ids each pass saw, and pruning of
-- mirror rows whose Clerk object no longer exists. Pages are applied by the same internal upsert
-- functions (and locks) as webhooks, so a backfill beside live webhooks converges.

-- ============================================================================================
-- Internal tables
-- ============================================================================================

-- One pass per object kind: where it is, so an interrupted run resumes after its last page.
create table clerk_sync.backfill_passes (
  kind text primary key check (kind in ('user', 'organization', 'membership')),
  pass_id text not null,
  started_at timestamptz not null default now(),
  next_offset integer not null default 0,
  -- The last id applied: users resume after it (Clerk's `starting_after` cursor).
  last_id text,
  -- Whether this pass records the ids it sees (needed to prune after it).
  track_seen boolean not null default false,
  completed_at timestamptz
);

-- Ids a pass fetched from Clerk; a mirror row absent here after a complete pass may be gone.
create table clerk_sync.backfill_seen (
  kind text not null,
  id text not null,
  pass_id text not null,
  primary key (kind, id)
);

alter table clerk_sync.backfill_passes enable row level security;
alter table clerk_sync.backfill_seen enable row level security;
revoke all on clerk_sync.backfill_passes, clerk_sync.backfill_seen from public;

-- ============================================================================================
-- Functions
-- ============================================================================================

-- Starts a pass for `kind`, or resumes the unfinished one (unless `restart`); returns its state.
create or replace function public.clerk_sync_backfill_begin(kind text, restart boolean default false, track_seen boolean default false)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_pass clerk_sync.backfill_passes;
begin
  if kind not in ('user', 'organization', 'membership') then
    raise exception 'clerk_sync_backfill_begin: unknown kind %', kind using errcode = '22023';
  end if;
  select * into v_pass from clerk_sync.backfill_passes p where p.kind = $1 for update;
  if found and v_pass.completed_at is null and not restart
     and (v_pass.track_seen or not clerk_sync_backfill_begin.track_seen) then
    return to_jsonb(v_pass) || jsonb_build_object('resumed', true);
  end if;
  delete from clerk_sync.backfill_seen s where s.kind = $1;
  insert into clerk_sync.backfill_passes as p (kind, pass_id, track_seen)
  values ($1, gen_random_uuid()::text, clerk_sync_backfill_begin.track_seen)
  on conflict on constraint backfill_passes_pkey do update
    set pass_id = excluded.pass_id, started_at = now(), next_offset = 0, last_id = null,
        track_seen = excluded.track_seen, completed_at = null
  returning * into v_pass;
  return to_jsonb(v_pass) || jsonb_build_object('resumed', false);
end;
$$;
revoke execute on function public.clerk_sync_backfill_begin(text, boolean, boolean) from public, anon, authenticated;
grant execute on function public.clerk_sync_backfill_begin(text, boolean, boolean) to service_role;

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
  v_result := case $1
    when 'user' then clerk_sync.upsert_users($4)
    when 'organization' then clerk_sync.upsert_organizations($4)
    else clerk_sync.upsert_memberships($4)
  end;

  if v_pass.track_seen then
    insert into clerk_sync.backfill_seen as s (kind, id, pass_id)
    select $1, r ->> 'id', $2 from jsonb_array_elements($4) r
    on conflict on constraint backfill_seen_pkey do update set pass_id = excluded.pass_id;
  end if;
  update clerk_sync.backfill_passes p set next_offset = $3, last_id = $5 where p.kind = $1;
  return v_result;
end;
$$;
revoke execute on function public.clerk_sync_backfill_page(text, text, integer, jsonb, text) from public, anon, authenticated;
grant execute on function public.clerk_sync_backfill_page(text, text, integer, jsonb, text) to service_role;

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
    select m.id, m.organization_id, m.user_id from (
      select u.id, null::text as organization_id, null::text as user_id, u.created_at
      from public.users_public u where $1 = 'user'
      union all
      select o.id, null, null, o.created_at from public.organizations o where $1 = 'organization'
      union all
      select om.id, om.organization_id, om.user_id, om.created_at
      from public.organization_memberships om where $1 = 'membership'
    ) m
    where m.created_at < v_started
      and not (v_track and exists (
        select 1 from clerk_sync.backfill_seen s where s.kind = $1 and s.id = m.id and s.pass_id = $2))
      and not (m.id = any(coalesce($3, '{}')))
    order by m.id;
end;
$$;
revoke execute on function public.clerk_sync_backfill_unseen(text, text, text[], timestamptz) from public, anon, authenticated;
grant execute on function public.clerk_sync_backfill_unseen(text, text, text[], timestamptz) to service_role;

-- Marks a pass complete (after its last page) and drops its seen ids unless a prune follows.
create or replace function public.clerk_sync_backfill_finish(kind text, pass_id text, keep_seen boolean default false)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  update clerk_sync.backfill_passes p set completed_at = now() where p.kind = $1 and p.pass_id = $2;
  if not keep_seen then
    delete from clerk_sync.backfill_seen s where s.kind = $1;
  end if;
end;
$$;
revoke execute on function public.clerk_sync_backfill_finish(text, text, boolean) from public, anon, authenticated;
grant execute on function public.clerk_sync_backfill_finish(text, text, boolean) to service_role;

-- What a page would change, without writing: {inserted, updated, unchanged, stale, deleted} (dry run).
create or replace function public.clerk_sync_backfill_compare(kind text, rows jsonb)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with input as (
    select distinct on (r ->> 'id') r ->> 'id' as id, (r ->> 'updated_at')::timestamptz as updated_at,
      r ->> 'organization_id' as organization_id, r ->> 'user_id' as user_id
    from jsonb_array_elements($2) r
    order by r ->> 'id', (r ->> 'updated_at')::timestamptz desc
  ), classified as (
    select case
        when exists (
          select 1 from clerk_sync.tombstones t
          where (t.kind = $1 and t.id = i.id)
             or ($1 = 'membership' and ((t.kind = 'organization' and t.id = i.organization_id)
                                     or (t.kind = 'user' and t.id = i.user_id)))) then 'deleted'
        when cur.updated_at is null then 'inserted'
        when cur.updated_at < i.updated_at then 'updated'
        when cur.updated_at = i.updated_at then 'unchanged'
        else 'stale' end as state
    from input i
    left join lateral (
      select u.updated_at from public.users_public u where $1 = 'user' and u.id = i.id
      union all
      select o.updated_at from public.organizations o where $1 = 'organization' and o.id = i.id
      union all
      select m.updated_at from public.organization_memberships m where $1 = 'membership' and m.id = i.id
    ) cur on true
  )
  select jsonb_build_object(
    'inserted', count(*) filter (where state = 'inserted'),
    'updated', count(*) filter (where state = 'updated'),
    'unchanged', count(*) filter (where state = 'unchanged'),
    'stale', count(*) filter (where state = 'stale'),
    'deleted', count(*) filter (where state = 'deleted'))
  from classified
$$;
revoke execute on function public.clerk_sync_backfill_compare(text, jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_backfill_compare(text, jsonb) to service_role;

-- The schema version this database is at; `GET /healthz` compares it with the code's.
create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261122000200'::text
$$;
