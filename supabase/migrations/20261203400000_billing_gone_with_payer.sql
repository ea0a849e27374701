-- clerk-supabase-sync: a payer's billing leaves nothing behind when the payer is deleted.
--
-- Deleting a user or an organization removed their subscriptions, subscription items and payment
-- attempts, but kept each one's version row in clerk_sync.private_metadata: the mirror then held
-- versions of objects it no longer had (found by the convergence property once billing joined it:
-- subscribe, delete the payer). The same two functions as before, and they now delete those rows
-- too, as they already did for memberships, invitations and domains.

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
    delete from public.billing_subscriptions where user_id = any(p_ids) returning id
  ), item as (
    delete from public.billing_subscription_items where user_id = any(p_ids) returning id
  ), pay as (
    delete from public.billing_payment_attempts where user_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
      or (kind = 'subscription' and id in (select id from sub))
      or (kind = 'subscriptionItem' and id in (select id from item))
      or (kind = 'paymentAttempt' and id in (select id from pay))
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

create or replace function clerk_sync.remove_organizations(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with org as (
    delete from public.organizations where id = any(p_ids) returning id
  ), mem as (
    delete from public.organization_memberships where organization_id = any(p_ids) returning id
  ), inv as (
    delete from clerk_sync.organization_invitations where organization_id = any(p_ids) returning id
  ), dom as (
    delete from public.organization_domains where organization_id = any(p_ids) returning id
  ), sub as (
    delete from public.billing_subscriptions where organization_id = any(p_ids) returning id
  ), item as (
    delete from public.billing_subscription_items where organization_id = any(p_ids) returning id
  ), pay as (
    delete from public.billing_payment_attempts where organization_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
      or (kind = 'domain' and id in (select id from dom))
      or (kind = 'subscription' and id in (select id from sub))
      or (kind = 'subscriptionItem' and id in (select id from item))
      or (kind = 'paymentAttempt' and id in (select id from pay))
  )
  select count(*) into v_count from org;
  return v_count;
end;
$$;

revoke all on all functions in schema clerk_sync from public;

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261203400000'::text
$$;
