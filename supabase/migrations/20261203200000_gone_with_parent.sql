-- clerk-supabase-sync: an object that went with its user or organization stays gone.
--
-- A user's accepted invitations are removed with the user (they hold the user's email address), and
-- an organization's memberships, invitations and domains with the organization. Two ways let such
-- an object come back, both found by the convergence soak (create an organization, invite, create a
-- user, accept, delete the user, with the deliveries reordered):
--
--   * The invitation's earlier versions (pending, `user_id` null) name no user, so the user's
--     tombstone did not hold them: a late `organizationInvitation.created` wrote it again.
--     Now the invitations removed with a user are tombstoned too.
--   * A version that names a deleted parent was refused ('deleted') but nothing else happened: an
--     earlier version already stored stayed, and a later one naming no parent still applied.
--     Now such a version deletes its object, as the parent's removal would have (a rare path: the
--     happy path pays one check of an array it already has).

create or replace function clerk_sync.remove_users(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with pub as (
    delete from public.users_public where id = any(p_ids) returning id
  ), priv as (
    delete from public.users_private where id = any(p_ids)
  ), mem as (
    delete from public.organization_memberships where user_id = any(p_ids) returning id
  ), inv as (
    delete from clerk_sync.organization_invitations where user_id = any(p_ids) returning id
  ), inv_tomb as (
    insert into clerk_sync.tombstones (kind, id) select 'invitation', inv.id from inv
    on conflict do nothing
  ), sub as (
    delete from public.billing_subscriptions where user_id = any(p_ids)
  ), item as (
    delete from public.billing_subscription_items where user_id = any(p_ids)
  ), pay as (
    delete from public.billing_payment_attempts where user_id = any(p_ids)
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
  ), ledger as (
    -- Erasure: failed payloads (parsed or raw) are the only place the ledger keeps personal data.
    update clerk_sync.events
    set payload = null, payload_raw = null, error = coalesce(error, '') || ' (payload erased: user deleted)'
    where (payload is not null or payload_raw is not null) and (user_id = any(p_ids) or object_id = any(p_ids))
  )
  select count(*) into v_count from pub;
  return v_count;
end;
$$;

-- One row's fate in clerk_sync.upsert_rows.
create type clerk_sync.upserted as (id text, state text, written boolean, inserted boolean);

-- clerk_sync.upsert_rows (20261203100000), and: a row refused because its object or a parent is
-- deleted deletes the object (its stored row, private metadata; tombstoned).
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
  select '20261203200000'::text
$$;
