-- clerk-supabase-sync: group commit. A long-running receiver applies the deliveries that arrived
-- while its previous transaction was in flight together — one call, one transaction, one commit —
-- each still atomic in its effects, idempotent and newest-wins, with its own outcome.
--
--   clerk_sync_apply_events(events)   a batch of webhook events, in order; their outcomes, in order
--   clerk_sync_apply_event(…)         one event (unchanged contract), through the same body
--
-- The body of one event (ledger → upsert or delete → status) is clerk_sync.apply; its callers hold
-- the locks. A batch takes every lock it needs at once, in key order (clerk_sync.lock_objects), the
-- order every writer uses, so two batches, or a batch and a backfill page, never deadlock. A batch
-- is one statement: any error rolls all of it back and the caller re-applies its events one by one
-- (src/store/batch.ts), so an event whose content cannot apply is kept as failed alone.

-- One event, its objects already locked by the caller; returns 'applied', 'duplicate' or 'stale'.
create or replace function clerk_sync.apply(
  p_event_id text, p_event_type text, p_kind text, p_op text, p_data jsonb, p_occurred_at timestamptz)
returns text
language plpgsql
volatile
as $$
declare
  v_object text := p_data ->> 'id';
  v_prior text;
  v_result jsonb;
  v_status text;
begin
  if p_event_id is null or p_event_id = '' then
    raise exception 'clerk_sync_apply_event: event_id is required' using errcode = '22Z01';
  end if;
  if v_object is null then
    raise exception 'clerk_sync_apply_event: data.id is required for %', p_event_type using errcode = '22Z01';
  end if;

  -- Idempotency and the ledger row in one statement: the locks serialize deliveries of the same
  -- object, so a concurrent duplicate waits, then finds the row and gets no id back. A failed event
  -- being replayed is taken over; the status is corrected below if the event is stale.
  insert into clerk_sync.events as e (id, type, object_id, user_id, status, occurred_at)
  values (p_event_id, p_event_type, v_object, clerk_sync.owner(p_kind, v_object, p_data), 'applied', p_occurred_at)
  on conflict (id) do update set status = excluded.status, error = null, reason = null, payload = null,
    payload_raw = null, received_at = now()
  where e.status = 'failed'
  returning e.id into v_prior;
  if v_prior is null then
    return 'duplicate';
  end if;

  case p_op
    when 'upsert' then v_result := clerk_sync.upsert(p_kind, jsonb_build_array(p_data), p_occurred_at);
    when 'delete' then v_result := clerk_sync.delete(p_kind, array[v_object]);
  end case;

  v_status := case
    when (v_result ->> 'inserted')::int + (v_result ->> 'updated')::int > 0 then 'applied'
    when (v_result ->> 'tombstoned')::int > 0 then 'applied'
    else 'stale'
  end;
  if v_status <> 'applied' then
    update clerk_sync.events e set status = v_status where e.id = p_event_id;
  end if;
  return v_status;
end;
$$;

revoke all on function clerk_sync.apply(text, text, text, text, jsonb, timestamptz) from public;

-- One event (the contract of the kinds migration, unchanged): a failure is stored whole; anything
-- else is locked and applied by clerk_sync.apply.
create or replace function public.clerk_sync_apply_event(
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
  v_object text;
  v_user text;
  v_prior text;
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

  perform clerk_sync.lock_rows(kind, jsonb_build_array(data));
  return clerk_sync.apply(event_id, event_type, kind, op, data, occurred_at);
end;
$$;

-- A batch of events, applied in order in one transaction; returns their outcomes in order. Each
-- element: {event_id, event_type, kind, op, data, occurred_at} as clerk_sync_apply_event takes them
-- (failures are stored through clerk_sync_apply_event, one at a time).
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
begin
  -- Every object of the batch at once, in key order: each event's own object exclusively, its
  -- parents shared — what clerk_sync.lock_rows takes for one event.
  perform clerk_sync.lock_objects(
    array(select clerk_sync.object_key(e ->> 'kind', e #>> '{data,id}') from jsonb_array_elements(events) e),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(events) e cross join lateral clerk_sync.parents(e ->> 'kind', e -> 'data') p));
  for v_event in select e from jsonb_array_elements(events) e loop
    v_outcomes := v_outcomes || clerk_sync.apply(v_event ->> 'event_id', v_event ->> 'event_type',
      v_event ->> 'kind', v_event ->> 'op', v_event -> 'data', (v_event ->> 'occurred_at')::timestamptz);
  end loop;
  return v_outcomes;
end;
$$;
revoke execute on function public.clerk_sync_apply_events(jsonb) from public, anon, authenticated;
grant execute on function public.clerk_sync_apply_events(jsonb) to service_role;

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202700000'::text
$$;
