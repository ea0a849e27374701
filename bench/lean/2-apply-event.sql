-- A leaner SQL entry point, step 2 of 2 — applied by bench/sql-lean.ts to its scratch database only;
-- written against supabase/migrations/20261122000100_clerk_sync_functions.sql as of 8780e10, and
-- adopted there in bbd0ad0 (so `as migrated` and this file now agree; kept for re-measuring).
--
-- clerk_sync_apply_event takes a single object's advisory lock directly rather than through
-- lock_rows → object_key → lock_objects (three nested calls that each set search_path, and a query
-- with unnest, group by and sort for one key), and writes its ledger row first, which also answers
-- the idempotency check: one statement where there were a select and an insert. Same outcomes,
-- same lock keys.

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
