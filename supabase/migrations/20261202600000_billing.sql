-- clerk-supabase-sync: Clerk Billing — plans, subscriptions, their items and payment attempts,
-- mirrored through the one SQL path (20261202200000_kinds.sql) as four new kinds; the entitlement
-- helpers has_feature / active_plan (from the mirror, at any time) and requesting_plan /
-- requesting_has_feature (from the session token's `pla` and `fea`).
--
-- A payer is a user or an organization: each billing row keeps `user_id` or `organization_id` (the
-- other one NULL) and is read by that user, or by the members of that organization. No card, gateway
-- or payer name and email is stored. A `subscription.*` event writes its `items` too, each item
-- newest-wins on its own; the items inside a payment attempt carry no `updated_at` and are not read.
-- Plans have no webhooks: `clerk-sync backfill` copies them (and the subscription items).
--
-- The users and organizations writers are re-created with their columns listed, so that a column
-- an app adds to users_private or organizations (`clerk-sync metadata --column`) does not break them.
-- Writers and removals are PL/pgSQL, whose statement plans are cached per session (see
-- 20261202500000_plans_cached.sql); the per-kind dispatchers are re-created on that migration's
-- bodies with the new kinds.

-- ============================================================================================
-- Tables
-- ============================================================================================

alter table clerk_sync.tombstones drop constraint tombstones_kind_check,
  add constraint tombstones_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain',
                  'plan', 'subscription', 'subscriptionItem', 'paymentAttempt'));
alter table clerk_sync.private_metadata drop constraint private_metadata_kind_check,
  add constraint private_metadata_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain',
                  'plan', 'subscription', 'subscriptionItem', 'paymentAttempt'));
alter table clerk_sync.backfill_passes drop constraint backfill_passes_kind_check,
  add constraint backfill_passes_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain',
                  'plan', 'subscription', 'subscriptionItem', 'paymentAttempt'));

-- Plans, from GET /billing/plans. Clerk's plans carry no timestamp: `updated_at` is when a
-- backfill last read the plan (the latest read wins).
create table public.billing_plans (
  id text primary key,
  slug text not null,
  name text not null,
  payer_type text,
  is_default boolean not null default false,
  features text[] not null default '{}',
  amount bigint,
  currency text,
  updated_at timestamptz not null
);
create index billing_plans_slug_idx on public.billing_plans (slug);

create table public.billing_subscriptions (
  id text primary key,
  payer_id text,
  user_id text,
  organization_id text,
  status text not null,
  active_at timestamptz,
  past_due_at timestamptz,
  canceled_at timestamptz,
  ended_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index billing_subscriptions_user_idx on public.billing_subscriptions (user_id);
create index billing_subscriptions_org_idx on public.billing_subscriptions (organization_id);
create index billing_subscriptions_payer_idx on public.billing_subscriptions (payer_id);

create table public.billing_subscription_items (
  id text primary key,
  subscription_id text,
  payer_id text,
  user_id text,
  organization_id text,
  plan_id text,
  plan_slug text,
  status text not null,
  is_free_trial boolean not null default false,
  period_start timestamptz,
  period_end timestamptz,
  canceled_at timestamptz,
  ended_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index billing_subscription_items_user_idx on public.billing_subscription_items (user_id);
create index billing_subscription_items_org_idx on public.billing_subscription_items (organization_id);
create index billing_subscription_items_payer_idx on public.billing_subscription_items (payer_id);
create index billing_subscription_items_subscription_idx on public.billing_subscription_items (subscription_id);

create table public.billing_payment_attempts (
  id text primary key,
  payer_id text,
  user_id text,
  organization_id text,
  status text not null,
  amount bigint,
  currency text,
  paid_at timestamptz,
  failed_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index billing_payment_attempts_user_idx on public.billing_payment_attempts (user_id);
create index billing_payment_attempts_org_idx on public.billing_payment_attempts (organization_id);

-- ============================================================================================
-- Privileges and row-level security
-- ============================================================================================

revoke all on table public.billing_plans, public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts from public, anon, authenticated;
grant select on table public.billing_plans, public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts to authenticated, service_role;

alter table public.billing_plans enable row level security;
alter table public.billing_subscriptions enable row level security;
alter table public.billing_subscription_items enable row level security;
alter table public.billing_payment_attempts enable row level security;

create policy "Signed-in users can read plans"
  on public.billing_plans for select to authenticated
  using (true);

-- A payer is the paying user, or any member of the paying organization.
create policy "Payers can read their subscriptions"
  on public.billing_subscriptions for select to authenticated
  using (user_id = (select public.requesting_user_id())
         or organization_id = any (array(select public.requesting_user_organization_ids())));

create policy "Payers can read their subscription items"
  on public.billing_subscription_items for select to authenticated
  using (user_id = (select public.requesting_user_id())
         or organization_id = any (array(select public.requesting_user_organization_ids())));

create policy "Payers can read their payment attempts"
  on public.billing_payment_attempts for select to authenticated
  using (user_id = (select public.requesting_user_id())
         or organization_id = any (array(select public.requesting_user_organization_ids())));

-- ============================================================================================
-- Helpers for policies: entitlements from the mirror
-- ============================================================================================

-- The subscription items of `payer` (a Clerk user or organization id) that entitle it at `at`: active
-- (a free trial is an active item), or canceled but inside the period it paid for; never an ended
-- item, nor one past its period. Security invoker: a user sees the items row-level security lets
-- them read (their own, their organizations'); `at` fixes the clock (tests, "as of" questions).
create or replace function public.active_subscription_items(payer text, at timestamptz default now())
returns setof public.billing_subscription_items
language sql
stable
set search_path = ''
as $$
  select i.* from public.billing_subscription_items i
  where (i.user_id = active_subscription_items.payer or i.organization_id = active_subscription_items.payer)
    and (i.status = 'active' or (i.status = 'canceled' and i.period_end is not null))
    and (i.period_start is null or i.period_start <= active_subscription_items.at)
    and (i.period_end is null or active_subscription_items.at < i.period_end)
    and (i.ended_at is null or active_subscription_items.at < i.ended_at)
$$;

-- Whether `payer` is entitled to `feature` (a feature slug) at `at`: one of its active items' plan
-- lists it.
create or replace function public.has_feature(payer text, feature text, at timestamptz default now())
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1 from public.active_subscription_items(has_feature.payer, has_feature.at) i
    join public.billing_plans p on p.id = i.plan_id
    where has_feature.feature = any(p.features))
$$;

-- The slug of `payer`'s plan at `at`: of its active items, a paid plan before the default (free) one,
-- then the latest to start; NULL when none is active.
create or replace function public.active_plan(payer text, at timestamptz default now())
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(p.slug, i.plan_slug)
  from public.active_subscription_items(active_plan.payer, active_plan.at) i
  left join public.billing_plans p on p.id = i.plan_id
  order by coalesce(p.is_default, false), i.period_start desc nulls last, i.id
  limit 1
$$;

revoke execute on function public.active_subscription_items(text, timestamptz),
  public.has_feature(text, text, timestamptz), public.active_plan(text, timestamptz) from public, anon;
grant execute on function public.active_subscription_items(text, timestamptz),
  public.has_feature(text, text, timestamptz), public.active_plan(text, timestamptz)
  to authenticated, service_role;

-- ============================================================================================
-- Helpers for policies: the session token
-- ============================================================================================

-- The plan of the session (v2 `pla`, e.g. `o:pro`: `scope:slug` entries, comma-separated), without
-- its scope: the active organization's (`o`, `uo`, `ou`) when the token has one, else the user's
-- (`u`); NULL when the token names none.
create or replace function public.requesting_plan()
returns text
language sql
stable
set search_path = ''
as $$
  select pg_catalog.substr(e.item, pg_catalog.strpos(e.item, ':') + 1)
  from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb -> 'pla' as v) c,
    pg_catalog.unnest(case pg_catalog.jsonb_typeof(c.v)
      when 'string' then pg_catalog.string_to_array(c.v #>> '{}', ',')
      when 'array' then array(select pg_catalog.jsonb_array_elements_text(c.v)) end) x(raw),
    lateral (select pg_catalog.btrim(x.raw) as item) e
  where e.item ~ '^[a-z]+:.'
  order by pg_catalog.strpos(pg_catalog.split_part(e.item, ':', 1), 'o') = 0
  limit 1
$$;

-- Whether the session token's features (v2 `fea`: `scope:slug` entries) include `feature`: a bare
-- slug in any scope, or `u:slug` / `o:slug` in that scope only, as Clerk's has({ feature }) reads
-- it. False, never NULL.
create or replace function public.requesting_has_feature(feature text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1
    from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb -> 'fea' as v) c,
      pg_catalog.unnest(case pg_catalog.jsonb_typeof(c.v)
        when 'string' then pg_catalog.string_to_array(c.v #>> '{}', ',')
        when 'array' then array(select pg_catalog.jsonb_array_elements_text(c.v)) end) x(raw),
      lateral (select pg_catalog.split_part(pg_catalog.btrim(x.raw), ':', 1) as scope,
                      pg_catalog.substr(pg_catalog.btrim(x.raw), pg_catalog.strpos(pg_catalog.btrim(x.raw), ':') + 1) as slug) e
    where pg_catalog.btrim(x.raw) ~ '^[a-z]+:.'
      and case
        when requesting_has_feature.feature ~ '^[uo]:.' then
          e.slug = pg_catalog.substr(requesting_has_feature.feature, 3)
          and pg_catalog.strpos(e.scope, pg_catalog.left(requesting_has_feature.feature, 1)) > 0
        else e.slug = requesting_has_feature.feature end)
$$;

grant execute on function public.requesting_plan(), public.requesting_has_feature(text)
  to anon, authenticated, service_role;

-- ============================================================================================
-- The sync: writers of the new kinds
-- ============================================================================================

-- Writes plans, the latest read wins.
create or replace function clerk_sync.write_plans(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.billing_plans as t
  select * from jsonb_populate_recordset(null::public.billing_plans, p_rows)
  on conflict (id) do update
    set (id, slug, name, payer_type, is_default, features, amount, currency, updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

-- Writes subscription items, newest version only. What a version does not say is kept: the
-- subscription (Clerk's list of items has none) and the payer (when only its id is sent, it is
-- read from a subscription or item of the same payer).
create or replace function clerk_sync.write_subscription_items(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.billing_subscription_items as t
  select r.id, r.subscription_id, r.payer_id,
    case when r.user_id is null and r.organization_id is null then k.user_id else r.user_id end,
    case when r.user_id is null and r.organization_id is null then k.organization_id else r.organization_id end,
    r.plan_id, r.plan_slug, r.status, r.is_free_trial, r.period_start, r.period_end, r.canceled_at,
    r.ended_at, r.created_at, r.updated_at
  from jsonb_populate_recordset(null::public.billing_subscription_items, p_rows) r
  left join lateral (
    select p.user_id, p.organization_id
    from (select s.user_id, s.organization_id from public.billing_subscriptions s where s.payer_id = r.payer_id
          union all
          select i.user_id, i.organization_id from public.billing_subscription_items i where i.payer_id = r.payer_id) p
    where p.user_id is not null or p.organization_id is not null
    limit 1
  ) k on r.user_id is null and r.organization_id is null and r.payer_id is not null
  on conflict (id) do update
    set (id, subscription_id, payer_id, user_id, organization_id, plan_id, plan_slug, status, is_free_trial,
         period_start, period_end, canceled_at, ended_at, created_at, updated_at)
      = (excluded.id, coalesce(excluded.subscription_id, t.subscription_id), coalesce(excluded.payer_id, t.payer_id),
         case when excluded.user_id is null and excluded.organization_id is null then t.user_id else excluded.user_id end,
         case when excluded.user_id is null and excluded.organization_id is null then t.organization_id
              else excluded.organization_id end,
         excluded.plan_id, coalesce(excluded.plan_slug, t.plan_slug), excluded.status, excluded.is_free_trial,
         excluded.period_start, excluded.period_end, excluded.canceled_at, excluded.ended_at, excluded.created_at,
         excluded.updated_at)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

-- Writes subscriptions, newest version only, then their items through the same upsert as an item's
-- own event (each item newest-wins, tombstones hold; locked here, after the subscription).
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
    perform clerk_sync.lock_rows('subscriptionItem', v_items);
    perform clerk_sync.upsert('subscriptionItem', v_items);
  end if;
end;
$$;

-- Writes payment attempts, newest version only.
create or replace function clerk_sync.write_payment_attempts(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.billing_payment_attempts as t
  select * from jsonb_populate_recordset(null::public.billing_payment_attempts, p_rows)
  on conflict (id) do update
    set (id, payer_id, user_id, organization_id, status, amount, currency, paid_at, failed_at, created_at,
         updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

-- Removes plans (a backfill's prune); returns how many.
create or replace function clerk_sync.remove_plans(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with gone as (delete from public.billing_plans where id = any(p_ids) returning id)
  select count(*) into v_count from gone;
  return v_count;
end;
$$;

-- Removes subscriptions with their items; returns how many subscriptions were removed.
create or replace function clerk_sync.remove_subscriptions(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with gone as (
    delete from public.billing_subscriptions where id = any(p_ids) returning id
  ), items as (
    delete from public.billing_subscription_items where subscription_id = any(p_ids)
  )
  select count(*) into v_count from gone;
  return v_count;
end;
$$;

-- Removes subscription items (a backfill's prune); returns how many.
create or replace function clerk_sync.remove_subscription_items(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with gone as (delete from public.billing_subscription_items where id = any(p_ids) returning id)
  select count(*) into v_count from gone;
  return v_count;
end;
$$;

-- Removes payment attempts; returns how many.
create or replace function clerk_sync.remove_payment_attempts(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with gone as (delete from public.billing_payment_attempts where id = any(p_ids) returning id)
  select count(*) into v_count from gone;
  return v_count;
end;
$$;

-- ============================================================================================
-- The sync: users and organizations (their billing goes with them; columns listed)
-- ============================================================================================

-- Writes users, newest version only. The columns are listed: an app may add columns to
-- users_private (generated ones from public_metadata: `clerk-sync metadata --column`).
create or replace function clerk_sync.write_users(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  with pub as (
    insert into public.users_public as t (id, username, first_name, last_name, image_url, created_at, updated_at)
    select r.id, r.username, r.first_name, r.last_name, r.image_url, r.created_at, r.updated_at
    from jsonb_populate_recordset(null::public.users_public, p_rows) r
    on conflict (id) do update
      set (id, username, first_name, last_name, image_url, created_at, updated_at)
        = (excluded.id, excluded.username, excluded.first_name, excluded.last_name, excluded.image_url,
           excluded.created_at, excluded.updated_at)
      where t.updated_at <= excluded.updated_at
    returning t.id, (t.xmax = 0) as inserted
  ), priv as (
    insert into public.users_private as t (id, email, phone, external_id, public_metadata, unsafe_metadata,
      last_sign_in_at, banned, locked, created_at, updated_at, attrs)
    select r.id, r.email, r.phone, r.external_id, r.public_metadata, r.unsafe_metadata, r.last_sign_in_at,
      r.banned, r.locked, r.created_at, r.updated_at, r.attrs
    from jsonb_populate_recordset(null::public.users_private, p_rows) r
    on conflict (id) do update
      set (id, email, phone, external_id, public_metadata, unsafe_metadata, last_sign_in_at, banned, locked,
           created_at, updated_at, attrs)
        = (excluded.id, excluded.email, excluded.phone, excluded.external_id, excluded.public_metadata,
           excluded.unsafe_metadata, excluded.last_sign_in_at, excluded.banned, excluded.locked,
           excluded.created_at, excluded.updated_at, excluded.attrs)
      where t.updated_at <= excluded.updated_at
  )
  select pub.id, pub.inserted from pub;
end;
$$;

-- Writes organizations, newest version only (columns listed, as for users).
create or replace function clerk_sync.write_organizations(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.organizations as t (id, name, slug, image_url, public_metadata, created_by, created_at,
    updated_at, attrs)
  select r.id, r.name, r.slug, r.image_url, r.public_metadata, r.created_by, r.created_at, r.updated_at, r.attrs
  from jsonb_populate_recordset(null::public.organizations, p_rows) r
  on conflict (id) do update
    set (id, name, slug, image_url, public_metadata, created_by, created_at, updated_at, attrs)
      = (excluded.id, excluded.name, excluded.slug, excluded.image_url, excluded.public_metadata,
         excluded.created_by, excluded.created_at, excluded.updated_at, excluded.attrs)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

-- Removes users with their personal data everywhere: their memberships, the invitations they
-- accepted, their billing, failed ledger payloads; returns how many users were removed.
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

-- Removes organizations with their memberships, invitations, domains and billing; returns how many
-- organizations were removed.
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
    delete from public.billing_subscriptions where organization_id = any(p_ids)
  ), item as (
    delete from public.billing_subscription_items where organization_id = any(p_ids)
  ), pay as (
    delete from public.billing_payment_attempts where organization_id = any(p_ids)
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
      or (kind = 'domain' and id in (select id from dom))
  )
  select count(*) into v_count from org;
  return v_count;
end;
$$;

-- ============================================================================================
-- The sync: what is known per kind (re-created with the four new kinds)
-- ============================================================================================

create or replace function clerk_sync.parents(p_kind text, p_row jsonb)
returns table (kind text, id text)
language sql
immutable
as $$
  select p.kind, p_row ->> p.field
  from (values ('membership', 'organization', 'organization_id'),
               ('membership', 'user', 'user_id'),
               ('invitation', 'organization', 'organization_id'),
               ('invitation', 'user', 'user_id'),
               ('domain', 'organization', 'organization_id'),
               ('subscription', 'organization', 'organization_id'),
               ('subscription', 'user', 'user_id'),
               ('subscriptionItem', 'organization', 'organization_id'),
               ('subscriptionItem', 'user', 'user_id'),
               ('paymentAttempt', 'organization', 'organization_id'),
               ('paymentAttempt', 'user', 'user_id')) p(child, kind, field)
  where p.child = p_kind and p_row ->> p.field is not null
$$;

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
    when 'role' then
      return query select t.id, t.updated_at from public.organization_roles t where t.id = any(p_ids);
    when 'permission' then
      return query select t.id, t.updated_at from public.organization_permissions t where t.id = any(p_ids);
    when 'invitation' then
      return query select t.id, t.updated_at from clerk_sync.organization_invitations t where t.id = any(p_ids);
    when 'domain' then
      return query select t.id, t.updated_at from public.organization_domains t where t.id = any(p_ids);
    when 'plan' then
      return query select t.id, t.updated_at from public.billing_plans t where t.id = any(p_ids);
    when 'subscription' then
      return query select t.id, t.updated_at from public.billing_subscriptions t where t.id = any(p_ids);
    when 'subscriptionItem' then
      return query select t.id, t.updated_at from public.billing_subscription_items t where t.id = any(p_ids);
    when 'paymentAttempt' then
      return query select t.id, t.updated_at from public.billing_payment_attempts t where t.id = any(p_ids);
  end case;
end;
$$;

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
    when 'role' then
      return query select t.id, null::text, null::text, t.created_at from public.organization_roles t;
    when 'permission' then
      return query select t.id, null::text, null::text, t.created_at from public.organization_permissions t;
    when 'invitation' then
      return query select t.id, t.organization_id, t.user_id, t.created_at from clerk_sync.organization_invitations t;
    when 'domain' then
      return query select t.id, t.organization_id, null::text, t.created_at from public.organization_domains t;
    when 'plan' then
      -- A plan has no creation time: when a backfill last read it.
      return query select t.id, null::text, null::text, t.updated_at from public.billing_plans t;
    when 'subscription' then
      return query select t.id, t.organization_id, t.user_id, t.created_at from public.billing_subscriptions t;
    when 'subscriptionItem' then
      return query select t.id, t.organization_id, t.user_id, t.created_at from public.billing_subscription_items t;
    when 'paymentAttempt' then
      return query select t.id, t.organization_id, t.user_id, t.created_at from public.billing_payment_attempts t;
  end case;
end;
$$;

create or replace function clerk_sync.owner(p_kind text, p_id text, p_data jsonb)
returns text
language plpgsql
stable
as $$
begin
  case p_kind
    when 'user' then return p_id;
    when 'organization', 'role', 'permission', 'domain', 'plan' then return null;
    when 'membership' then
      return coalesce(p_data ->> 'user_id',
                      (select m.user_id from public.organization_memberships m where m.id = p_id));
    when 'invitation' then
      return coalesce(p_data ->> 'user_id',
                      (select i.user_id from clerk_sync.organization_invitations i where i.id = p_id));
    when 'subscription' then
      return coalesce(p_data ->> 'user_id',
                      (select s.user_id from public.billing_subscriptions s where s.id = p_id));
    when 'subscriptionItem' then
      return coalesce(p_data ->> 'user_id',
                      (select i.user_id from public.billing_subscription_items i where i.id = p_id));
    when 'paymentAttempt' then
      return coalesce(p_data ->> 'user_id',
                      (select a.user_id from public.billing_payment_attempts a where a.id = p_id));
  end case;
end;
$$;

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
    when 'role' then return query select * from clerk_sync.write_roles(p_rows);
    when 'permission' then return query select * from clerk_sync.write_permissions(p_rows);
    when 'invitation' then return query select * from clerk_sync.write_invitations(p_rows);
    when 'domain' then return query select * from clerk_sync.write_domains(p_rows);
    when 'plan' then return query select * from clerk_sync.write_plans(p_rows);
    when 'subscription' then return query select * from clerk_sync.write_subscriptions(p_rows);
    when 'subscriptionItem' then return query select * from clerk_sync.write_subscription_items(p_rows);
    when 'paymentAttempt' then return query select * from clerk_sync.write_payment_attempts(p_rows);
  end case;
end;
$$;

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
    when 'role' then v_deleted := clerk_sync.remove_roles(p_ids);
    when 'permission' then v_deleted := clerk_sync.remove_permissions(p_ids);
    when 'invitation' then v_deleted := clerk_sync.remove_invitations(p_ids);
    when 'domain' then v_deleted := clerk_sync.remove_domains(p_ids);
    when 'plan' then v_deleted := clerk_sync.remove_plans(p_ids);
    when 'subscription' then v_deleted := clerk_sync.remove_subscriptions(p_ids);
    when 'subscriptionItem' then v_deleted := clerk_sync.remove_subscription_items(p_ids);
    when 'paymentAttempt' then v_deleted := clerk_sync.remove_payment_attempts(p_ids);
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

-- The backfill's pass check, with the new kinds.
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
  if kind not in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain', 'plan',
                  'subscription', 'subscriptionItem', 'paymentAttempt') then
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

-- ============================================================================================
-- public_metadata: what keys the mirror holds (`clerk-sync metadata`)
-- ============================================================================================

-- The keys found in the public_metadata of users and organizations, nested ones as dotted paths
-- (objects only, four levels deep), each with its JSON type, how many rows have it with that type,
-- and how many rows there are. Service role only (it reads every user's metadata).
create or replace function public.clerk_sync_metadata_keys()
returns table (source text, path text, type text, rows bigint, total bigint)
language sql
stable
security definer
set search_path = ''
as $$
  with recursive src as (
    select 'users'::text as source, u.id, u.public_metadata as m from public.users_private u
    union all
    select 'organizations', o.id, o.public_metadata from public.organizations o
  ), walk as (
    select s.source, s.id, e.key as path, e.value, 1 as depth
    from src s, jsonb_each(case when jsonb_typeof(s.m) = 'object' then s.m else '{}' end) e
    union all
    select w.source, w.id, w.path || '.' || e.key, e.value, w.depth + 1
    from walk w, jsonb_each(w.value) e
    where jsonb_typeof(w.value) = 'object' and w.depth < 4
  ), totals as (
    select s.source, count(*) as n from src s group by s.source
  )
  select w.source, w.path, jsonb_typeof(w.value), count(distinct w.id), t.n
  from walk w join totals t on t.source = w.source
  group by w.source, w.path, jsonb_typeof(w.value), t.n
  order by w.source desc, w.path, count(distinct w.id) desc
$$;
revoke execute on function public.clerk_sync_metadata_keys() from public, anon, authenticated;
grant execute on function public.clerk_sync_metadata_keys() to service_role;

-- clerk_sync_schema_version() is left to the newest migration (20261202700000_group_commit.sql,
-- written before this one landed): a database that applied it first applies this one later, and
-- must not go back to this version.
