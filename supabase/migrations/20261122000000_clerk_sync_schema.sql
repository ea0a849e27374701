-- clerk-supabase-sync: the mirror tables, the JWT helpers and row-level security.
-- Applies unchanged on a Supabase project (`supabase db push`) and, through `clerk-sync migrate`,
-- on plain Postgres (which creates the roles anon, authenticated and service_role first).

-- ============================================================================================
-- Internal schema: ledger, tombstones and private metadata. Never exposed, never granted.
-- ============================================================================================

create schema if not exists clerk_sync;
revoke all on schema clerk_sync from public;

-- One row per applied, stale or failed webhook delivery, keyed by svix-id (idempotency).
create table clerk_sync.events (
  id text primary key,
  type text not null,
  object_id text,
  user_id text,
  status text not null check (status in ('applied', 'stale', 'failed')),
  error text,
  -- The delivered payload, kept only while the event is failed so `clerk-sync replay` can re-apply it.
  payload jsonb,
  occurred_at timestamptz,
  received_at timestamptz not null default now()
);
create index events_failed_idx on clerk_sync.events (received_at) where status = 'failed';
create index events_object_payload_idx on clerk_sync.events (object_id) where payload is not null;
create index events_user_payload_idx on clerk_sync.events (user_id) where payload is not null;
create index events_received_idx on clerk_sync.events (received_at);

-- Deleted Clerk objects: no later event may bring them back.
create table clerk_sync.tombstones (
  kind text not null check (kind in ('user', 'organization', 'membership')),
  id text not null,
  deleted_at timestamptz not null default now(),
  primary key (kind, id)
);

-- private_metadata of users, organizations and memberships: readable by the service role only.
create table clerk_sync.private_metadata (
  kind text not null check (kind in ('user', 'organization', 'membership')),
  id text not null,
  data jsonb not null default '{}',
  updated_at timestamptz not null,
  primary key (kind, id)
);

alter table clerk_sync.events enable row level security;
alter table clerk_sync.tombstones enable row level security;
alter table clerk_sync.private_metadata enable row level security;
revoke all on all tables in schema clerk_sync from public;

-- ============================================================================================
-- Mirror tables
-- ============================================================================================

create table public.users_public (
  id text primary key,
  username text,
  first_name text,
  last_name text,
  image_url text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table public.users_private (
  id text primary key,
  email text,
  phone text,
  external_id text,
  public_metadata jsonb not null default '{}',
  unsafe_metadata jsonb not null default '{}',
  last_sign_in_at timestamptz,
  banned boolean not null default false,
  locked boolean not null default false,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  attrs jsonb not null default '{}'
);

create table public.organizations (
  id text primary key,
  name text not null,
  slug text,
  image_url text,
  public_metadata jsonb not null default '{}',
  created_by text,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  attrs jsonb not null default '{}'
);

-- No foreign keys to users or organizations: Svix does not order deliveries, so a membership may
-- arrive before its organization or user and must be kept, not refused.
create table public.organization_memberships (
  id text primary key,
  organization_id text not null,
  user_id text not null,
  role text not null,
  permissions text[] not null default '{}',
  public_metadata jsonb not null default '{}',
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index organization_memberships_user_org_idx on public.organization_memberships (user_id, organization_id);
create index organization_memberships_org_idx on public.organization_memberships (organization_id);

-- ============================================================================================
-- JWT helpers (Clerk session tokens, as PostgREST exposes them in request.jwt.claims)
-- ============================================================================================

-- The Clerk user id of the request: the JWT `sub` claim, NULL when absent or empty.
create or replace function public.requesting_user_id()
returns text
language sql
stable
set search_path = ''
as $$
  select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')
$$;
grant execute on function public.requesting_user_id() to anon, authenticated, service_role;

-- The active organization: session token v2 `o.id`, falling back to v1 `org_id`.
create or replace function public.requesting_org_id()
returns text
language sql
stable
set search_path = ''
as $$
  select nullif(coalesce(c -> 'o' ->> 'id', c ->> 'org_id'), '')
  from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb as c) claims
$$;
grant execute on function public.requesting_org_id() to anon, authenticated, service_role;

-- The role in the active organization as memberships store it ('org:admin'): v2 `o.rol` carries it
-- without the 'org:' prefix, v1 `org_role` with it.
create or replace function public.requesting_org_role()
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when c -> 'o' ->> 'rol' is not null and c -> 'o' ->> 'rol' <> '' then
      case when c -> 'o' ->> 'rol' like 'org:%' then c -> 'o' ->> 'rol' else 'org:' || (c -> 'o' ->> 'rol') end
    else nullif(c ->> 'org_role', '')
  end
  from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb as c) claims
$$;
grant execute on function public.requesting_org_role() to anon, authenticated, service_role;

-- The organizations the requesting user belongs to. Security definer so that the organization and
-- membership policies can use it without recursing into each other's row-level security.
create or replace function public.requesting_user_organization_ids()
returns setof text
language sql
stable
security definer
set search_path = ''
as $$
  select m.organization_id
  from public.organization_memberships m
  where m.user_id = public.requesting_user_id()
$$;
revoke execute on function public.requesting_user_organization_ids() from public, anon;
grant execute on function public.requesting_user_organization_ids() to authenticated, service_role;

-- ============================================================================================
-- Privileges and row-level security
-- ============================================================================================

-- Supabase grants everything on public tables to anon and authenticated by default: take it back.
revoke all on table public.users_public, public.users_private, public.organizations,
  public.organization_memberships from public, anon, authenticated;
grant select on table public.users_public, public.users_private, public.organizations,
  public.organization_memberships to authenticated;
grant select on table public.users_public, public.users_private, public.organizations,
  public.organization_memberships to service_role;

alter table public.users_public enable row level security;
alter table public.users_private enable row level security;
alter table public.organizations enable row level security;
alter table public.organization_memberships enable row level security;

create policy "Signed-in users can read public profiles"
  on public.users_public for select to authenticated
  using (true);

create policy "Users can read their own private profile"
  on public.users_private for select to authenticated
  using (id = (select public.requesting_user_id()));

create policy "Members can read their organization"
  on public.organizations for select to authenticated
  using (id in (select public.requesting_user_organization_ids()));

create policy "Members can read the memberships of their organization"
  on public.organization_memberships for select to authenticated
  using (organization_id in (select public.requesting_user_organization_ids()));
