-- clerk-supabase-sync: a group-commit batch applied by kind, not event by event.
--
-- clerk_sync_apply_events applied a batch's events one at a time through the one-event body: per
-- event, the ledger insert and a whole upsert of one row (classify, write, private metadata), a
-- dozen statements each. Measured on the server with the bench's mix of webhook events, the
-- backend's CPU per event: ~590 µs in batches of 4, ~390 µs in batches of 16. Most of it is the
-- cost of running each statement, not of the rows.
--
-- Now, when a batch is only upserts of users, organizations and memberships, each object at most
-- once (what a receiver under load sees), it is applied as sets: one ledger insert for every event,
-- then one upsert per kind for the events not seen before, then their outcomes. The result is the
-- same as applying them in arrival order, because no two of them touch the same object and an
-- upsert of one never reads another's row (only tombstones, which deletes write, and a batch with a
-- delete takes the one-by-one path). Any other batch is applied one event at a time, as before.
--
-- For that, the rules of one upsert (clerk_sync.classify) take the event time per row, not per call,
-- and clerk_sync.upsert_rows returns each row's fate; clerk_sync.upsert keeps its contract on top.

-- ============================================================================================
-- classify: the event time per row
-- ============================================================================================

drop function clerk_sync.classify(text, jsonb, timestamptz);

-- The state of each id of a batch of rows of `p_kind` against the mirror: 'apply', 'unchanged',
-- 'stale' or 'deleted' (its object or a parent is tombstoned). The newest version of an id is
-- classified. `p_event_ats[n]`: the webhook's event time of the n-th row (null, or a null array:
-- none, as in a backfill).
create function clerk_sync.classify(p_kind text, p_rows jsonb, p_event_ats timestamptz[])
returns table (id text, state text, stored_at timestamptz, updated_at timestamptz, event_at timestamptz,
  digest text, r jsonb)
language sql
stable
as $$
  with input as (
    select distinct on (e ->> 'id') e ->> 'id' as id, (e ->> 'updated_at')::timestamptz as updated_at,
      p_event_ats[n::int] as event_at, md5(e::text) as digest, e as r
    from jsonb_array_elements(p_rows) with ordinality as x(e, n)
    order by e ->> 'id', (e ->> 'updated_at')::timestamptz desc, md5(e::text) desc,
      p_event_ats[n::int] desc nulls last
  )
  select i.id, case
      when exists (select 1 from clerk_sync.tombstones t where t.kind = p_kind and t.id = i.id)
        or exists (select 1 from clerk_sync.parents(p_kind, i.r) p
                   join clerk_sync.tombstones t on t.kind = p.kind and t.id = p.id) then 'deleted'
      when s.updated_at is null or s.updated_at < i.updated_at then 'apply'
      when s.updated_at > i.updated_at then 'stale'
      when v.digest = i.digest or (v.digest is null and i.event_at is null) then 'unchanged'
      when (coalesce(i.event_at, '-infinity'), i.digest)
         > (coalesce(v.event_at, '-infinity'), coalesce(v.digest, '')) then 'apply'
      else 'stale' end,
    s.updated_at, i.updated_at, i.event_at, i.digest, i.r
  from input i
  left join clerk_sync.stored(p_kind, array(select input.id from input)) s on s.id = i.id
  -- One index probe per row: as a join, the planner hashes the whole table while it is small.
  left join lateral (
    select m.event_at, m.digest from clerk_sync.private_metadata m where m.kind = p_kind and m.id = i.id offset 0
  ) v on true
$$;

-- ============================================================================================
-- upsert_rows: each row's fate; upsert: the counts, on top of it
-- ============================================================================================

-- Upserts a batch of rows of `p_kind`, newest version wins, tombstones hold (the body of
-- clerk_sync.upsert until now, with the event time per row); returns each id's state and whether
-- it was written (inserted or updated).
create function clerk_sync.upsert_rows(p_kind text, p_rows jsonb, p_event_ats timestamptz[])
returns table (id text, state text, written boolean, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  with c as materialized (
    select * from clerk_sync.classify(p_kind, p_rows, p_event_ats)
  ), w as materialized (
    -- The rows to write: the batch itself when each of its rows is one id that applies, otherwise
    -- the newest version of each id that applies. (The subqueries of a CASE run only when taken.)
    select * from clerk_sync.write(p_kind,
      case when (select count(*) from c where c.state = 'apply') = jsonb_array_length(p_rows) then p_rows
           else (select coalesce(jsonb_agg(c.r), '[]') from c where c.state = 'apply') end)
  ), meta as (
    insert into clerk_sync.private_metadata as m (kind, id, data, updated_at, event_at, digest)
    select p_kind, c.id, coalesce(c.r -> 'private_metadata', '{}'), c.updated_at, c.event_at, c.digest
    from c where c.state = 'apply'
    on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at,
      event_at = excluded.event_at, digest = excluded.digest
    where m.updated_at <= excluded.updated_at
  )
  select c.id, c.state, w.id is not null, coalesce(w.inserted, false)
  from c left join w on w.id = c.id;
end;
$$;

-- Upserts a batch of rows of `p_kind`; returns {inserted, updated, unchanged, stale, deleted}.
-- `p_event_at`: the webhook's event time, for every row (a backfill has none). PL/pgSQL, not SQL:
-- its plan is kept for the session, where a SQL function's is made again at every call.
create or replace function clerk_sync.upsert(p_kind text, p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language plpgsql
volatile
as $$
begin
  return (
    select jsonb_build_object(
      'inserted', count(*) filter (where u.inserted),
      'updated', count(*) filter (where u.written and not u.inserted),
      'unchanged', count(*) filter (where not u.written and u.state in ('unchanged', 'apply')),
      'stale', count(*) filter (where not u.written and u.state = 'stale'),
      'deleted', count(*) filter (where u.state = 'deleted'))
    from clerk_sync.upsert_rows(p_kind, p_rows,
      case when p_event_at is not null then array_fill(p_event_at, array[jsonb_array_length(p_rows)]) end) u);
end;
$$;

-- ============================================================================================
-- A batch of events: by kind when it can be, one by one otherwise
-- ============================================================================================

create or replace function public.clerk_sync_apply_events(events jsonb)
returns text[]
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event jsonb;
  v_outcomes text[] := '{}';
  v_new text[];
  v_written text[] := '{}';
  v_kind text;
begin
  perform clerk_sync.lock_objects(
    array(select clerk_sync.object_key(w.kind, w.id)
          from jsonb_array_elements(events) e cross join lateral clerk_sync.written(e ->> 'kind', e -> 'data') w),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(events) e cross join lateral clerk_sync.written(e ->> 'kind', e -> 'data') w
          cross join lateral clerk_sync.parents(w.kind, w.r) p));

  -- One by one, in arrival order: a batch with a delete, another kind, an event missing its ids
  -- (clerk_sync.apply refuses it), or an object or event id twice.
  if exists (select 1 from jsonb_array_elements(events) e
             where e ->> 'op' is distinct from 'upsert'
                or coalesce(e ->> 'kind' in ('user', 'organization', 'membership'), false) is false
                or coalesce(e ->> 'event_id', '') = '' or e -> 'data' ->> 'id' is null)
     or (select count(distinct e ->> 'event_id') <> count(*)
               or count(distinct (e ->> 'kind', e -> 'data' ->> 'id')) <> count(*)
         from jsonb_array_elements(events) e) then
    for v_event in select e from jsonb_array_elements(events) e loop
      v_outcomes := v_outcomes || clerk_sync.apply(v_event ->> 'event_id', v_event ->> 'event_type',
        v_event ->> 'kind', v_event ->> 'op', v_event -> 'data', (v_event ->> 'occurred_at')::timestamptz);
    end loop;
    return v_outcomes;
  end if;

  -- The ledger rows, as clerk_sync.apply writes them: an event already there is a duplicate, unless
  -- it failed before and is now taken over.
  with ins as (
    insert into clerk_sync.events as e (id, type, object_id, user_id, status, occurred_at)
    select x ->> 'event_id', x ->> 'event_type', x -> 'data' ->> 'id',
      clerk_sync.owner(x ->> 'kind', x -> 'data' ->> 'id', x -> 'data'), 'applied',
      (x ->> 'occurred_at')::timestamptz
    from jsonb_array_elements(events) x
    on conflict (id) do update set status = excluded.status, error = null, reason = null, payload = null,
      payload_raw = null, received_at = now()
    where e.status = 'failed'
    returning e.id
  )
  select coalesce(array_agg(ins.id), '{}') into v_new from ins;

  -- One upsert per kind of the new events' objects, each row with its own event time.
  for v_kind in select distinct x ->> 'kind' from jsonb_array_elements(events) x
                where x ->> 'event_id' = any(v_new) loop
    select v_written || coalesce(array_agg(v_kind || ' ' || u.id), '{}') into v_written
    from clerk_sync.upsert_rows(v_kind,
      (select jsonb_agg(x -> 'data' order by n) from jsonb_array_elements(events) with ordinality as t(x, n)
       where x ->> 'kind' = v_kind and x ->> 'event_id' = any(v_new)),
      (select array_agg((x ->> 'occurred_at')::timestamptz order by n)
       from jsonb_array_elements(events) with ordinality as t(x, n)
       where x ->> 'kind' = v_kind and x ->> 'event_id' = any(v_new))) u
    where u.written;
  end loop;

  select array_agg(case when not (x ->> 'event_id' = any(v_new)) then 'duplicate'
                        when (x ->> 'kind') || ' ' || (x -> 'data' ->> 'id') = any(v_written) then 'applied'
                        else 'stale' end order by n)
  into v_outcomes
  from jsonb_array_elements(events) with ordinality as t(x, n);

  update clerk_sync.events e set status = 'stale'
  where e.id = any(array(select events -> (i - 1) ->> 'event_id'
                         from generate_subscripts(v_outcomes, 1) i where v_outcomes[i] = 'stale'));
  return v_outcomes;
end;
$$;

revoke all on all functions in schema clerk_sync from public;

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261203100000'::text
$$;
