-- clerk-supabase-sync: a backfill page of realistic users with less work in Postgres.
--
-- Measured on the server with 20 pages of 500 users shaped as a live instance has them (~2.5 KB of
-- JSON each: several email addresses, phone numbers, OAuth accounts, metadata), the backend's CPU
-- per user in clerk_sync_backfill_page (median of 5 runs, from /proc):
--
--   * The shared upsert rebuilt the batch it was given as a new jsonb array (jsonb_agg of the rows
--     classified `apply`) before writing it: ~2.5 MB per page, a sixth of the page's CPU. When every
--     row of the batch applies and no id repeats — a backfill into an empty or older mirror, and every
--     single-row webhook that applies — that array is the batch itself, and is now passed as it is.
--   * users_private.attrs (most of a user's bytes, past the ~2 KB at which Postgres compresses a
--     row) was compressed with pglz; lz4, where the server has it (Supabase's and Debian's Postgres
--     do), compresses several times faster. Rows already stored keep their compression; where lz4
--     is not available the column keeps pglz.
--
-- Together: 134 → ~90 µs of backend CPU per user for a page (a single-user upsert: ~1,200 µs).

-- ============================================================================================
-- The shared upsert (its latest body, 20261202500000, with the batch passed through when it all applies)
-- ============================================================================================

create or replace function clerk_sync.upsert(p_kind text, p_rows jsonb, p_event_at timestamptz default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  v_counts jsonb;
begin
  with c as materialized (
    select * from clerk_sync.classify(p_kind, p_rows, p_event_at)
  ), w as materialized (
    -- The rows to write: the batch itself when each of its rows is one id that applies, otherwise
    -- the newest version of each id that applies. (The subqueries of a CASE run only when taken.)
    select * from clerk_sync.write(p_kind,
      case when (select count(*) from c where c.state = 'apply') = jsonb_array_length(p_rows) then p_rows
           else (select coalesce(jsonb_agg(c.r), '[]') from c where c.state = 'apply') end)
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
  into v_counts
  from c left join w on w.id = c.id;
  return v_counts;
end;
$$;

revoke all on function clerk_sync.upsert(text, jsonb, timestamptz) from public;

-- ============================================================================================
-- users_private.attrs compressed with lz4 where the server has it
-- ============================================================================================

do $$
begin
  alter table public.users_private alter column attrs set compression lz4;
exception
  -- A server built without lz4 ("compression method lz4 not supported"): pglz stays.
  when feature_not_supported then null;
end;
$$;

-- ============================================================================================
-- Schema version
-- ============================================================================================

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202800000'::text
$$;
