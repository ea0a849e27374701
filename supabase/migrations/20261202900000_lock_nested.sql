-- clerk-supabase-sync: a subscription's items are locked with it, up front.
--
-- A `subscription.*` event writes its items too (clerk_sync.write_subscriptions). The billing
-- migration locked them inside that write, after the caller's locks — out of the one key order every
-- writer takes its locks in. Two group-commit batches could then wait on each other: one holding an
-- item (its own `subscriptionItem.*` event) and waiting for the items of a subscription it also
-- applies, the other the reverse. Now the objects a row writes are listed in one place,
-- clerk_sync.written (the row itself and, for a subscription, its items), and every lock — one
-- event, a batch, a backfill page — covers them and their parents, at once and in key order.

-- The objects a row of `p_kind` writes: itself and, for a subscription, each of its items.
create or replace function clerk_sync.written(p_kind text, p_row jsonb)
returns table (kind text, id text, r jsonb)
language sql
immutable
as $$
  select p_kind, p_row ->> 'id', p_row
  union all
  select 'subscriptionItem', i ->> 'id', i
  from jsonb_array_elements(case when p_kind = 'subscription' and jsonb_typeof(p_row -> 'items') = 'array'
                                 then p_row -> 'items' else '[]' end) i
$$;

-- Locks the objects a batch of rows writes exclusively and their parents shared, in key order.
create or replace function clerk_sync.lock_rows(p_kind text, p_rows jsonb)
returns void
language plpgsql
volatile
as $$
begin
  perform clerk_sync.lock_objects(
    array(select clerk_sync.object_key(w.kind, w.id)
          from jsonb_array_elements(p_rows) e cross join lateral clerk_sync.written(p_kind, e) w),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(p_rows) e cross join lateral clerk_sync.written(p_kind, e) w
          cross join lateral clerk_sync.parents(w.kind, w.r) p));
end;
$$;

-- Subscriptions and then their items (the caller has locked both, see clerk_sync.written).
create or replace function clerk_sync.write_subscriptions(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_items jsonb := (select coalesce(jsonb_agg(i), '[]')
                    from jsonb_array_elements(p_rows) r, jsonb_array_elements(coalesce(r -> 'items', '[]')) i);
begin
  return query
    insert into public.billing_subscriptions as t
    select * from jsonb_populate_recordset(null::public.billing_subscriptions, p_rows)
    on conflict (id) do update
      set (id, payer_id, user_id, organization_id, status, active_at, past_due_at, canceled_at, ended_at,
           created_at, updated_at) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
    returning t.id, (t.xmax = 0) as inserted;
  if jsonb_array_length(v_items) > 0 then
    perform clerk_sync.upsert('subscriptionItem', v_items);
  end if;
end;
$$;

-- A batch of events: every object they write locked first, in key order, then each applied in turn.
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
  perform clerk_sync.lock_objects(
    array(select clerk_sync.object_key(w.kind, w.id)
          from jsonb_array_elements(events) e cross join lateral clerk_sync.written(e ->> 'kind', e -> 'data') w),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(events) e cross join lateral clerk_sync.written(e ->> 'kind', e -> 'data') w
          cross join lateral clerk_sync.parents(w.kind, w.r) p));
  for v_event in select e from jsonb_array_elements(events) e loop
    v_outcomes := v_outcomes || clerk_sync.apply(v_event ->> 'event_id', v_event ->> 'event_type',
      v_event ->> 'kind', v_event ->> 'op', v_event -> 'data', (v_event ->> 'occurred_at')::timestamptz);
  end loop;
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
  select '20261202900000'::text
$$;
