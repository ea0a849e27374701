-- clerk-supabase-sync: the per-event path without re-planning.
--
-- Postgres 15 plans a `language sql` function's statements afresh on every call unless it can inline
-- them (a single plain SELECT). The kinds migration moved the shared upsert and each table's write
-- into such functions — CTEs with data-modifying statements, which are never inlined — so every
-- event planned the upsert, the locks and its kind's write again: measured with pgbench on the
-- server, one `user.created` through clerk_sync_apply_event took 4.7 ms at concurrency 1 (1.2 ms
-- before) and 16 clients applied 393 events/s (1,808 before). PL/pgSQL caches its statements' plans
-- per session, so the same statements, re-created below as PL/pgSQL with unchanged bodies, are
-- planned once per connection.
--
-- `#variable_conflict use_column`: in PL/pgSQL a function's output columns (`id`, `inserted`) are
-- variables, and a bare column of the same name (`on conflict (id)`) would otherwise be ambiguous.
-- clerk_sync.classify, clerk_sync.parents and clerk_sync.object_key stay `language sql`: they are
-- single SELECTs, inlined into the statement that calls them.

-- ============================================================================================
-- Locks
-- ============================================================================================

create or replace function clerk_sync.lock_rows(p_kind text, p_rows jsonb)
returns void
language plpgsql
volatile
as $$
begin
  perform clerk_sync.lock_objects(
    array(select clerk_sync.object_key(p_kind, r ->> 'id') from jsonb_array_elements(p_rows) r),
    array(select clerk_sync.object_key(p.kind, p.id)
          from jsonb_array_elements(p_rows) r cross join lateral clerk_sync.parents(p_kind, r) p));
end;
$$;

create or replace function clerk_sync.lock_ids(p_kind text, p_ids text[])
returns void
language plpgsql
volatile
as $$
begin
  perform clerk_sync.lock_objects(array(select clerk_sync.object_key(p_kind, i) from unnest(p_ids) i), '{}');
end;
$$;

-- ============================================================================================
-- What every kind shares
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
    select * from clerk_sync.write(p_kind, (select coalesce(jsonb_agg(c.r), '[]') from c where c.state = 'apply'))
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

-- ============================================================================================
-- Each table's write (bodies unchanged)
-- ============================================================================================

create or replace function clerk_sync.write_users(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  with pub as (
    insert into public.users_public as t
    select * from jsonb_populate_recordset(null::public.users_public, p_rows)
    on conflict (id) do update
      set (id, username, first_name, last_name, image_url, created_at, updated_at) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
    returning t.id, (t.xmax = 0) as inserted
  ), priv as (
    insert into public.users_private as t
    select * from jsonb_populate_recordset(null::public.users_private, p_rows)
    on conflict (id) do update
      set (id, email, phone, external_id, public_metadata, unsafe_metadata, last_sign_in_at, banned, locked,
           created_at, updated_at, attrs) = row(excluded.*)
      where t.updated_at <= excluded.updated_at
  )
  select pub.id, pub.inserted from pub;
end;
$$;

create or replace function clerk_sync.write_organizations(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.organizations as t
  select * from jsonb_populate_recordset(null::public.organizations, p_rows)
  on conflict (id) do update
    set (id, name, slug, image_url, public_metadata, created_by, created_at, updated_at, attrs) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

create or replace function clerk_sync.write_memberships(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.organization_memberships as t
  select * from jsonb_populate_recordset(null::public.organization_memberships, p_rows)
  on conflict (id) do update
    set (id, organization_id, user_id, role, permissions, public_metadata, created_at, updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

create or replace function clerk_sync.write_roles(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
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
  select role.id, role.inserted from role;
end;
$$;

create or replace function clerk_sync.write_permissions(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
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
  select perm.id, perm.inserted from perm;
end;
$$;

create or replace function clerk_sync.write_invitations(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into clerk_sync.organization_invitations as t
  select * from jsonb_populate_recordset(null::clerk_sync.organization_invitations, p_rows)
  on conflict (id) do update
    set (id, organization_id, email_address, role, status, user_id, public_metadata, url, expires_at,
         created_at, updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

create or replace function clerk_sync.write_domains(p_rows jsonb)
returns table (id text, inserted boolean)
language plpgsql
volatile
as $$
#variable_conflict use_column
begin
  return query
  insert into public.organization_domains as t
  select * from jsonb_populate_recordset(null::public.organization_domains, p_rows)
  on conflict (id) do update
    set (id, organization_id, name, enrollment_mode, verified, affiliation_email_address, created_at,
         updated_at) = row(excluded.*)
    where t.updated_at <= excluded.updated_at
  returning t.id, (t.xmax = 0) as inserted;
end;
$$;

-- ============================================================================================
-- Each kind's removal (bodies unchanged)
-- ============================================================================================

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
  ), meta as (
    delete from clerk_sync.private_metadata
    where (kind = 'membership' and id in (select id from mem)) or (kind = 'invitation' and id in (select id from inv))
      or (kind = 'domain' and id in (select id from dom))
  )
  select count(*) into v_count from org;
  return v_count;
end;
$$;

create or replace function clerk_sync.remove_memberships(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with mem as (
    delete from public.organization_memberships where id = any(p_ids) returning id
  )
  select count(*) into v_count from mem;
  return v_count;
end;
$$;

create or replace function clerk_sync.remove_roles(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with role as (
    delete from public.organization_roles where id = any(p_ids) returning id
  ), grants as (
    delete from public.organization_role_permissions where role_id = any(p_ids)
  )
  select count(*) into v_count from role;
  return v_count;
end;
$$;

create or replace function clerk_sync.remove_permissions(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with perm as (
    delete from public.organization_permissions where id = any(p_ids) returning id
  ), grants as (
    delete from public.organization_role_permissions where permission_id = any(p_ids)
  )
  select count(*) into v_count from perm;
  return v_count;
end;
$$;

create or replace function clerk_sync.remove_invitations(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with inv as (
    delete from clerk_sync.organization_invitations where id = any(p_ids) returning id
  )
  select count(*) into v_count from inv;
  return v_count;
end;
$$;

create or replace function clerk_sync.remove_domains(p_ids text[])
returns bigint
language plpgsql
volatile
as $$
declare
  v_count bigint;
begin
  with dom as (
    delete from public.organization_domains where id = any(p_ids) returning id
  )
  select count(*) into v_count from dom;
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
  select '20261202500000'::text
$$;
