-- clerk-supabase-sync: the same version delivered later keeps the later event time.
--
-- Two versions with the same `updated_at` are ordered by their event time (the envelope's
-- timestamp; a backfill row has none), then their digest. A delivery whose row is the stored
-- version itself is 'unchanged' and wrote nothing, not even its event time. So after a backfill
-- stored version B (no event time), the webhook of B (time T2) left the time empty, and the webhook
-- of an older version A with the same `updated_at` (time T1 < T2) arriving last then won: the mirror
-- ended on A, where Clerk is on B. The convergence soak found it (create a user, change it within
-- the same millisecond, a backfill racing the deliveries). Now an unchanged delivery with a later
-- event time records it.

-- clerk_sync.upsert_rows (20261203200000), and: a delivery of the stored version itself with a later
-- event time than the one recorded moves the recorded time forward.
create or replace function clerk_sync.upsert_rows(p_kind text, p_rows jsonb, p_event_ats timestamptz[])
returns table (id text, state text, written boolean, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_fates clerk_sync.upserted[];
begin
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
  ), seen as (
    update clerk_sync.private_metadata m set event_at = c.event_at
    from c
    where c.state = 'unchanged' and m.kind = p_kind and m.id = c.id and c.event_at is not null
      and (m.event_at is null or m.event_at < c.event_at)
  )
  select array_agg(row(c.id, c.state, w.id is not null, coalesce(w.inserted, false))::clerk_sync.upserted)
  into v_fates
  from c left join w on w.id = c.id;

  if exists (select 1 from unnest(v_fates) f where f.state = 'deleted') then
    perform clerk_sync.delete(p_kind, array(select f.id from unnest(v_fates) f where f.state = 'deleted'));
  end if;
  return query select f.id, f.state, f.written, f.inserted from unnest(v_fates) f;
end;
$$;

revoke all on all functions in schema clerk_sync from public;

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261203300000'::text
$$;
