-- clerk-supabase-sync: organizations complete — roles, permissions (and which role grants which),
-- invitations and domains, mirrored through the one SQL path (20261202200000_kinds.sql) as four
-- new kinds; the session-token helpers for slug, permissions and session status; and the mirror
-- helpers has_org_role / has_org_permission, which answer for any organization of the requesting
-- user, not only the one active in the token.
--
-- Invitations: the readable table is a view over clerk_sync.organization_invitations, because its
-- `status` depends on the clock (a pending invitation past `expires_at` reads `expired`) and because
-- its `url` holds a token: the view shows the url to the service role only, and the rows to the
-- organization's admins and the invited user. Their private_metadata is kept with the others'
-- (clerk_sync_private_metadata('invitation', id), service role only).

-- ============================================================================================
-- Tables
-- ============================================================================================

alter table clerk_sync.tombstones drop constraint tombstones_kind_check,
  add constraint tombstones_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain'));
alter table clerk_sync.private_metadata drop constraint private_metadata_kind_check,
  add constraint private_metadata_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain'));
alter table clerk_sync.backfill_passes drop constraint backfill_passes_kind_check,
  add constraint backfill_passes_kind_check
  check (kind in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain'));

-- Instance-wide roles; `key` as Clerk stores it, always `org:`-prefixed (the mapper adds it).
create table public.organization_roles (
  id text primary key,
  key text not null,
  name text not null,
  description text,
  is_creator_eligible boolean,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index organization_roles_key_idx on public.organization_roles (key);

create table public.organization_permissions (
  id text primary key,
  key text not null,
  name text not null,
  description text,
  type text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index organization_permissions_key_idx on public.organization_permissions (key);

-- Which permissions a role grants, from the role's `permissions` list (replaced with each newer
-- version of the role). `permission_key` is copied from that list so that a role's grants hold
-- before (or without) the permission's own event; a newer permission event keeps it current.
create table public.organization_role_permissions (
  role_id text not null,
  permission_id text not null,
  permission_key text not null,
  primary key (role_id, permission_id)
);
create index organization_role_permissions_permission_idx on public.organization_role_permissions (permission_id);

-- Every column of an invitation, its url (a token) included: read through the view below.
create table clerk_sync.organization_invitations (
  id text primary key,
  organization_id text not null,
  email_address text not null,
  role text not null,
  status text not null,
  user_id text,
  public_metadata jsonb not null default '{}',
  url text,
  expires_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index organization_invitations_org_idx on clerk_sync.organization_invitations (organization_id);
create index organization_invitations_email_idx on clerk_sync.organization_invitations (lower(email_address));
create index organization_invitations_user_idx on clerk_sync.organization_invitations (user_id);
alter table clerk_sync.organization_invitations enable row level security;
revoke all on clerk_sync.organization_invitations from public;

create table public.organization_domains (
  id text primary key,
  organization_id text not null,
  name text not null,
  enrollment_mode text,
  verified boolean not null default false,
  affiliation_email_address text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index organization_domains_org_idx on public.organization_domains (organization_id);

-- ============================================================================================
-- Helpers for policies: the session token
-- ============================================================================================

-- The active organization's slug: v2 `o.slg`, falling back to v1 `org_slug`.
create or replace function public.requesting_org_slug()
returns text
language sql
stable
set search_path = ''
as $$
  select nullif(coalesce(c -> 'o' ->> 'slg', c ->> 'org_slug'), '')
  from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb as c) claims
$$;

-- The session status, `sts` (`active` or `pending`); NULL when the token has none (v1).
create or replace function public.requesting_session_status()
returns text
language sql
stable
set search_path = ''
as $$
  select nullif(c ->> 'sts', '')
  from (select nullif(current_setting('request.jwt.claims', true), '')::jsonb as c) claims
$$;

-- The permissions in the active organization, as `org:<feature>:<permission>` keys; `{}` when
-- there are none, never NULL. v2 tokens: `fea` lists features with their scope (`o:projects`,
-- `u:…`, `uo:…`), `o.per` the permission names and `o.fpm` one bitmask per organization-scoped
-- feature of `fea`, in order: bit i (least significant first) of the j-th mask grants the j-th
-- feature's permission `per[i]`. Claims are comma-separated strings (arrays are accepted too); a
-- mask is a decimal of any width, tested with numeric arithmetic (exact, unlike a float past 2^53).
-- v1 tokens: the `org_permissions` array.
create or replace function public.requesting_org_permissions()
returns text[]
language sql
stable
set search_path = ''
as $$
  with claims as (
    select nullif(current_setting('request.jwt.claims', true), '')::jsonb as c
  ), lists as (
    select l.name, x.item, x.n
    from claims,
      lateral (values ('fea', c -> 'fea'), ('per', c -> 'o' -> 'per'), ('fpm', c -> 'o' -> 'fpm')) l(name, v),
      lateral (
        select pg_catalog.btrim(e.item) as item, e.n
        from pg_catalog.unnest(case pg_catalog.jsonb_typeof(l.v)
          when 'string' then pg_catalog.string_to_array(l.v #>> '{}', ',')
          when 'array' then array(select pg_catalog.jsonb_array_elements_text(l.v)) end)
          with ordinality e(item, n)
      ) x
  ), features as (
    -- The organization-scoped features, numbered in their order in `fea`.
    select pg_catalog.substr(f.item, pg_catalog.strpos(f.item, ':') + 1) as feature,
      pg_catalog.row_number() over (order by f.n) as j
    from lists f
    where f.name = 'fea' and pg_catalog.strpos(pg_catalog.split_part(f.item, ':', 1), 'o') > 0
  ), v2 as (
    select 'org:' || f.feature || ':' || p.item as key, f.j, p.n
    from features f
    join lists m on m.name = 'fpm' and m.n = f.j and m.item ~ '^[0-9]+$'
    join lists p on p.name = 'per'
    where pg_catalog.mod(pg_catalog.div(m.item::numeric, pg_catalog.power(2::numeric, p.n - 1)), 2) = 1
  )
  select case
    when pg_catalog.jsonb_typeof(c -> 'o') = 'object' then
      coalesce((select array_agg(v2.key order by v2.j, v2.n) from v2), '{}')
    when pg_catalog.jsonb_typeof(c -> 'org_permissions') = 'array' then
      array(select pg_catalog.jsonb_array_elements_text(c -> 'org_permissions'))
    else '{}'::text[] end
  from claims
$$;

-- Whether the session token grants `key` in the active organization (false, never NULL).
create or replace function public.requesting_user_has_permission(key text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(requesting_user_has_permission.key = any(public.requesting_org_permissions()), false)
$$;

grant execute on function public.requesting_org_slug(), public.requesting_session_status(),
  public.requesting_org_permissions(), public.requesting_user_has_permission(text)
  to anon, authenticated, service_role;

-- ============================================================================================
-- Helpers for policies: the mirror, for the requesting user in any of their organizations
-- ============================================================================================

-- Whether the requesting user's membership of `org_id` has `role` (`admin` and `org:admin` alike).
-- Parameters are qualified with the function's name: a column of the same name would win.
-- Security definer: it reads memberships under no one's row-level security, and answers only
-- about the requesting user.
create or replace function public.has_org_role(org_id text, role text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_memberships m
    where m.user_id = public.requesting_user_id() and m.organization_id = has_org_role.org_id
      and m.role = case when has_org_role.role like 'org:%' then has_org_role.role
                        else 'org:' || has_org_role.role end)
$$;

-- Whether the requesting user's role in `org_id` grants `permission`: through the role's mirrored
-- permissions (organization_role_permissions); while the role itself is not mirrored, through the
-- permissions Clerk listed on the membership.
create or replace function public.has_org_permission(org_id text, permission text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_memberships m
    where m.user_id = public.requesting_user_id() and m.organization_id = has_org_permission.org_id
      and case
        when exists (select 1 from public.organization_roles r where r.key = m.role) then exists (
          select 1 from public.organization_roles r
          join public.organization_role_permissions rp on rp.role_id = r.id
          where r.key = m.role and rp.permission_key = has_org_permission.permission)
        else has_org_permission.permission = any(m.permissions) end)
$$;

revoke execute on function public.has_org_role(text, text), public.has_org_permission(text, text)
  from public, anon;
grant execute on function public.has_org_role(text, text), public.has_org_permission(text, text)
  to authenticated, service_role;

-- A user belongs to a few organizations, not to the 1000 rows the planner assumes of a set-returning
-- function: with the estimate, a policy `organization_id in (select …)` on a large table is planned
-- as an index scan rather than a sequential scan.
alter function public.requesting_user_organization_ids() rows 10;

-- The primary email of the requesting user (for the invitations they can read).
create or replace function public.requesting_user_email()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select u.email from public.users_private u where u.id = public.requesting_user_id()
$$;
revoke execute on function public.requesting_user_email() from public, anon;
grant execute on function public.requesting_user_email() to authenticated, service_role;

-- ============================================================================================
-- Privileges, row-level security and the invitations view
-- ============================================================================================

revoke all on table public.organization_roles, public.organization_permissions,
  public.organization_role_permissions, public.organization_domains from public, anon, authenticated;
grant select on table public.organization_roles, public.organization_permissions,
  public.organization_role_permissions, public.organization_domains to authenticated, service_role;

alter table public.organization_roles enable row level security;
alter table public.organization_permissions enable row level security;
alter table public.organization_role_permissions enable row level security;
alter table public.organization_domains enable row level security;

create policy "Signed-in users can read roles"
  on public.organization_roles for select to authenticated
  using (true);

create policy "Signed-in users can read permissions"
  on public.organization_permissions for select to authenticated
  using (true);

create policy "Signed-in users can read which role grants which permission"
  on public.organization_role_permissions for select to authenticated
  using (true);

create policy "Members can read the domains of their organization"
  on public.organization_domains for select to authenticated
  using (organization_id in (select public.requesting_user_organization_ids()));

-- Invitations, as the view's owner reads them, filtered like a policy: the service role sees every
-- row and the url; an authenticated user the invitations of the organizations they administer
-- (role org:admin, or a role with org:sys_memberships:read) and those sent to their primary email.
-- security_barrier: the filter runs before any function of the caller's query sees a row.
create view public.organization_invitations with (security_barrier = true) as
  select i.id, i.organization_id, i.email_address, i.role,
    case when i.status = 'pending' and i.expires_at < pg_catalog.now() then 'expired' else i.status end as status,
    i.user_id, i.public_metadata, i.expires_at, i.created_at, i.updated_at,
    case when pg_catalog.pg_has_role('service_role', 'member') then i.url end as url
  from clerk_sync.organization_invitations i
  where pg_catalog.pg_has_role('service_role', 'member')
    or (public.requesting_user_id() is not null
        and (pg_catalog.lower(i.email_address) = (select pg_catalog.lower(public.requesting_user_email()))
             or public.has_org_role(i.organization_id, 'org:admin')
             or public.has_org_permission(i.organization_id, 'org:sys_memberships:read')));
revoke all on public.organization_invitations from public, anon, authenticated;
grant select on public.organization_invitations to authenticated, service_role;

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
               ('domain', 'organization', 'organization_id')) p(child, kind, field)
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
    when 'organization', 'role', 'permission', 'domain' then return null;
    when 'membership' then
      return coalesce(p_data ->> 'user_id',
                      (select m.user_id from public.organization_memberships m where m.id = p_id));
    when 'invitation' then
      return coalesce(p_data ->> 'user_id',
                      (select i.user_id from clerk_sync.organization_invitations i where i.id = p_id));
  end case;
end;
$$;

-- Writes roles, newest version only, and replaces the permissions each written role grants (a
-- permission deleted for good is not linked again by a role that still lists it).
create or replace function clerk_sync.write_roles(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  with role as (
    insert into public.organization_roles as t
    select * from jsonb_populate_recordset(null::public.organization_roles, p_rows)
    on conflict (id) do update
      set (id, key, name, description, is_creator_eligible, created_at, updated_at) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
    returning t.id, (t.xmax = 0) as inserted
  ), grants as (
    select distinct on (e ->> 'id', p ->> 'id') e ->> 'id' as role_id, p ->> 'id' as permission_id,
      p ->> 'key' as permission_key
    from jsonb_array_elements(p_rows) e
    cross join lateral jsonb_array_elements(coalesce(e -> 'permissions', '[]')) p
    where e ->> 'id' in (select role.id from role)
      and not exists (select 1 from clerk_sync.tombstones t where t.kind = 'permission' and t.id = p ->> 'id')
  ), dropped as (
    delete from public.organization_role_permissions rp
    where rp.role_id in (select role.id from role)
      and (rp.role_id, rp.permission_id) not in (select g.role_id, g.permission_id from grants g)
  ), granted as (
    insert into public.organization_role_permissions as rp (role_id, permission_id, permission_key)
    select g.role_id, g.permission_id, g.permission_key from grants g
    on conflict (role_id, permission_id) do update set permission_key = excluded.permission_key
  )
  select role.id, role.inserted from role
$$;

-- Writes permissions, newest version only, and keeps the key the roles' grants carry current.
create or replace function clerk_sync.write_permissions(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  with perm as (
    insert into public.organization_permissions as t
    select * from jsonb_populate_recordset(null::public.organization_permissions, p_rows)
    on conflict (id) do update
      set (id, key, name, description, type, created_at, updated_at) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
    returning t.id, t.key, (t.xmax = 0) as inserted
  ), rekeyed as (
    update public.organization_role_permissions rp set permission_key = perm.key
    from perm where rp.permission_id = perm.id and rp.permission_key <> perm.key
  )
  select perm.id, perm.inserted from perm
$$;

-- Writes invitations (their url included), newest version only.
create or replace function clerk_sync.write_invitations(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  insert into clerk_sync.organization_invitations as t
  select * from jsonb_populate_recordset(null::clerk_sync.organization_invitations, p_rows)
  on conflict (id) do update
    set (id, organization_id, email_address, role, status, user_id, public_metadata, url, expires_at,
         created_at, updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted
$$;

-- Writes domains, newest version only.
create or replace function clerk_sync.write_domains(p_rows jsonb)
returns table (id text, inserted boolean)
language sql
volatile
as $$
  insert into public.organization_domains as t
  select * from jsonb_populate_recordset(null::public.organization_domains, p_rows)
  on conflict (id) do update
    set (id, organization_id, name, enrollment_mode, verified, affiliation_email_address, created_at,
         updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted
$$;

-- Removes users with their personal data everywhere: their memberships, the invitations they
-- accepted, failed ledger payloads; returns how many users were removed.
create or replace function clerk_sync.remove_users(p_ids text[])
returns bigint
language sql
volatile
as $$
  with pub as (
    delete from public.users_public where id = any(p_ids) returning id
  ), priv as (
    delete from public.users_private where id = any(p_ids)
  ), mem as (
    delete from public.organization_memberships where user_id = any(p_ids) returning id
  ), inv as (
    delete from clerk_sync.organization_invitations where user_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
  ), ledger as (
    -- Erasure: failed payloads (parsed or raw) are the only place the ledger keeps personal data.
    update clerk_sync.events
    set payload = null, payload_raw = null, error = coalesce(error, '') || ' (payload erased: user deleted)'
    where (payload is not null or payload_raw is not null) and (user_id = any(p_ids) or object_id = any(p_ids))
  )
  select count(*) from pub
$$;

-- Removes organizations with their memberships, invitations and domains; returns how many
-- organizations were removed. (Their later events are refused: the organization's tombstone.)
create or replace function clerk_sync.remove_organizations(p_ids text[])
returns bigint
language sql
volatile
as $$
  with org as (
    delete from public.organizations where id = any(p_ids) returning id
  ), mem as (
    delete from public.organization_memberships where organization_id = any(p_ids) returning id
  ), inv as (
    delete from clerk_sync.organization_invitations where organization_id = any(p_ids) returning id
  ), dom as (
    delete from public.organization_domains where organization_id = any(p_ids) returning id
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
      or (kind = 'domain' and id in (select id from dom))
  )
  select count(*) from org
$$;

-- Removes roles with the grants they carry; returns how many roles were removed.
create or replace function clerk_sync.remove_roles(p_ids text[])
returns bigint
language sql
volatile
as $$
  with role as (
    delete from public.organization_roles where id = any(p_ids) returning id
  ), grants as (
    delete from public.organization_role_permissions where role_id = any(p_ids)
  )
  select count(*) from role
$$;

-- Removes permissions and every role's grant of them; returns how many permissions were removed.
create or replace function clerk_sync.remove_permissions(p_ids text[])
returns bigint
language sql
volatile
as $$
  with perm as (
    delete from public.organization_permissions where id = any(p_ids) returning id
  ), grants as (
    delete from public.organization_role_permissions where permission_id = any(p_ids)
  )
  select count(*) from perm
$$;

-- Removes invitations (no Clerk event deletes one; a backfill's prune does); returns how many.
create or replace function clerk_sync.remove_invitations(p_ids text[])
returns bigint
language sql
volatile
as $$
  with inv as (
    delete from clerk_sync.organization_invitations where id = any(p_ids) returning id
  )
  select count(*) from inv
$$;

-- Removes domains; returns how many were removed.
create or replace function clerk_sync.remove_domains(p_ids text[])
returns bigint
language sql
volatile
as $$
  with dom as (
    delete from public.organization_domains where id = any(p_ids) returning id
  )
  select count(*) from dom
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
  if kind not in ('user', 'organization', 'membership', 'role', 'permission', 'invitation', 'domain') then
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

create or replace function public.clerk_sync_schema_version()
returns text
language sql
immutable
set search_path = ''
as $$
  select '20261202400000'::text
$$;
