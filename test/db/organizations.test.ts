import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_ROUTES, type KindName } from '../../src/core/kinds.ts';
import type { DomainRow, InvitationRow, PermissionRow, RoleRow } from '../../src/core/rows.ts';
import { at, membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
}, 60_000);
afterAll(() => t?.close());

type Role = 'anon' | 'authenticated' | 'service_role';
const one = async <T>(sql: string, params: unknown[] = []) => (await t.db.query<T>(sql, params)).rows[0] as T;
const upsert = (kind: KindName, rows: object[]) =>
  one<{ r: Record<string, number> }>('select public.clerk_sync_upsert($1, $2) as r', [
    kind,
    JSON.stringify(rows),
  ]);
const remove = (kind: KindName, ids: string[]) =>
  one<{ r: Record<string, number> }>('select public.clerk_sync_delete($1, $2) as r', [kind, ids]);
let seq = 0;
async function apply(type: string, data: object): Promise<string> {
  const route = EVENT_ROUTES.get(type);
  const { o } = await one<{ o: string }>(
    'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, kind => $3, op => $4, data => $5) as o',
    [`msg_org_${++seq}`, type, route?.kind, route?.op, JSON.stringify(data)],
  );
  return o;
}
const as = <T>(role: Role, claims: object | null, sql: string, params: unknown[] = []) =>
  t.as(role, claims, async (s) => (await s.query<T>(sql, params)).rows);

const perm = (id: string, key: string, version = 1): PermissionRow => ({
  id,
  key,
  name: key,
  description: null,
  type: key.startsWith('org:sys_') ? 'system' : 'custom',
  created_at: at(0),
  updated_at: at(version),
});
const role = (id: string, key: string, grants: [string, string][], version = 1): RoleRow => ({
  id,
  key,
  name: key,
  description: null,
  is_creator_eligible: false,
  permissions: grants.map(([pid, pkey]) => ({ id: pid, key: pkey })),
  created_at: at(0),
  updated_at: at(version),
});
const invitation = (
  id: string,
  org: string,
  email: string,
  overrides: Partial<InvitationRow> = {},
): InvitationRow => ({
  id,
  organization_id: org,
  email_address: email,
  role: 'org:member',
  status: 'pending',
  user_id: null,
  public_metadata: { source: 'test' },
  private_metadata: { referrer: `secret_${id}` },
  url: `https://accounts.example.com/accept?token=tok_${id}`,
  expires_at: new Date(Date.now() + 86_400_000).toISOString(),
  created_at: at(0),
  updated_at: at(1),
  ...overrides,
});
const domain = (id: string, org: string, version = 1): DomainRow => ({
  id,
  organization_id: org,
  name: `${id}.example.com`,
  enrollment_mode: 'manual_invitation',
  verified: true,
  affiliation_email_address: null,
  created_at: at(0),
  updated_at: at(version),
});

describe('session-token helpers', () => {
  const claims = (c: object | null) =>
    as<Record<string, unknown>>(
      'authenticated',
      c,
      `select public.requesting_org_permissions() as perms, public.requesting_org_slug() as slug,
              public.requesting_session_status() as sts,
              public.requesting_user_has_permission('org:projects:revoke') as revoke`,
    ).then((r) => r[0] as Record<string, unknown>);

  it("decodes Clerk's worked example (fea, o.per, o.fpm)", async () => {
    expect(
      await claims({
        sub: 'user_a',
        v: 2,
        sts: 'active',
        fea: 'o:repositories,o:projects',
        o: { id: 'org_1', rol: 'admin', slg: 'acme', per: 'read,create,update,delete,revoke', fpm: '7,21' },
      }),
    ).toEqual({
      perms: [
        'org:repositories:read',
        'org:repositories:create',
        'org:repositories:update',
        'org:projects:read',
        'org:projects:update',
        'org:projects:revoke',
      ],
      slug: 'acme',
      sts: 'active',
      revoke: true,
    });
  });

  it('skips user-scoped features when numbering the masks, and accepts arrays', async () => {
    const r = await claims({
      sub: 'u',
      fea: ['u:profile', 'o:billing', 'uo:reports'],
      o: { id: 'org_1', per: ['read', 'manage'], fpm: [2, 3] },
    });
    expect(r.perms).toEqual(['org:billing:manage', 'org:reports:read', 'org:reports:manage']);
  });

  it('tests bits past 2^53 exactly (no float rounding)', async () => {
    const per = Array.from({ length: 70 }, (_, i) => `p${i}`).join(',');
    // bits 0, 53, 54 and 69: 2^53 + 1 is not a double, and 2^69 is past any integer a float holds.
    const mask = (2n ** 69n + 2n ** 54n + 2n ** 53n + 1n).toString();
    const r = await claims({
      sub: 'u',
      fea: 'o:big,o:next',
      o: { id: 'org_1', per, fpm: `${mask},${2n ** 64n}` },
    });
    expect(r.perms).toEqual(['org:big:p0', 'org:big:p53', 'org:big:p54', 'org:big:p69', 'org:next:p64']);
    // The same mask as a JSON number (jsonb keeps it exact).
    const n = await t.as('authenticated', null, async (s) => {
      await s.query(`select set_config('request.jwt.claims', $1, true)`, [
        `{"sub":"u","fea":"o:big","o":{"id":"org_1","per":"${per}","fpm":[${mask}]}}`,
      ]);
      return (await s.query<{ p: string[] }>('select public.requesting_org_permissions() as p')).rows[0]?.p;
    });
    expect(n).toEqual(['org:big:p0', 'org:big:p53', 'org:big:p54', 'org:big:p69']);
  });

  it.each([
    [
      'v1 token',
      { sub: 'u', org_id: 'org_1', org_slug: 'acme', org_permissions: ['org:projects:revoke'] },
      ['org:projects:revoke'],
      'acme',
      true,
    ],
    ['no organization', { sub: 'u', v: 2 }, [], null, false],
    ['no claims', null, [], null, false],
    ['an organization without permissions', { sub: 'u', o: { id: 'org_1', rol: 'member' } }, [], null, false],
    ['a malformed mask', { sub: 'u', fea: 'o:x', o: { id: 'o', per: 'read', fpm: '1e3' } }, [], null, false],
  ])('%s: %j', async (_label, c, perms, slug, revoke) => {
    expect(await claims(c)).toMatchObject({ perms, slug, revoke });
  });

  it('session status: pending and absent', async () => {
    expect((await claims({ sub: 'u', sts: 'pending' })).sts).toBe('pending');
    expect((await claims({ sub: 'u' })).sts).toBeNull();
  });
});

// org_1: user_admin (org:admin), user_member (org:member), user_auditor (org:auditor, a role with
// org:sys_memberships:read); org_2: user_member (org:admin there). user_outsider: no membership.
// user_invitee: invited to org_1 by their primary email, not a member.
const users = ['user_admin', 'user_member', 'user_auditor', 'user_invitee', 'user_outsider'];
async function seed() {
  await t.reset();
  await upsert(
    'user',
    users.map((id) => userRow(id, 1, { email: `${id}@Example.com` })),
  );
  await upsert('organization', [orgRow('org_1', 1), orgRow('org_2', 1)]);
  await upsert('membership', [
    membershipRow('mem_admin', 'org_1', 'user_admin', 1, { role: 'org:admin', permissions: [] }),
    membershipRow('mem_member', 'org_1', 'user_member', 1, { role: 'org:member', permissions: [] }),
    membershipRow('mem_auditor', 'org_1', 'user_auditor', 1, { role: 'org:auditor', permissions: [] }),
    membershipRow('mem_member2', 'org_2', 'user_member', 1, { role: 'org:admin', permissions: [] }),
  ]);
  await upsert('permission', [
    perm('perm_read', 'org:projects:read'),
    perm('perm_write', 'org:projects:write'),
    perm('perm_members', 'org:sys_memberships:read'),
  ]);
  await upsert('role', [
    role('role_admin', 'org:admin', [
      ['perm_read', 'org:projects:read'],
      ['perm_write', 'org:projects:write'],
      ['perm_members', 'org:sys_memberships:read'],
    ]),
    role('role_member', 'org:member', [['perm_read', 'org:projects:read']]),
    role('role_auditor', 'org:auditor', [['perm_members', 'org:sys_memberships:read']]),
  ]);
  await upsert('invitation', [
    invitation('inv_1', 'org_1', 'USER_INVITEE@example.com'),
    invitation('inv_2', 'org_2', 'someone@example.com'),
    invitation('inv_old', 'org_1', 'late@example.com', { expires_at: at(5) }),
  ]);
  await upsert('domain', [domain('dom_1', 'org_1'), domain('dom_2', 'org_2')]);
}

const user = (sub: string): [Role, object] => ['authenticated', { sub, role: 'authenticated' }];
const identities: Record<string, [Role, object | null]> = {
  anon: ['anon', null],
  admin: user('user_admin'),
  member: user('user_member'),
  auditor: user('user_auditor'),
  invitee: user('user_invitee'),
  'non-member': user('user_outsider'),
  'service role': ['service_role', { role: 'service_role' }],
};

describe('mirror helpers: any organization of the requesting user', () => {
  beforeAll(seed, 60_000);

  const check = async (sub: string, sql: string) =>
    (await as<{ v: boolean }>('authenticated', { sub }, `select ${sql} as v`))[0]?.v;

  it.each([
    ['user_admin', "public.has_org_role('org_1', 'org:admin')", true],
    ['user_admin', "public.has_org_role('org_1', 'admin')", true],
    ['user_member', "public.has_org_role('org_1', 'org:admin')", false],
    // Not the active organization of a token: the mirror answers for every membership.
    ['user_member', "public.has_org_role('org_2', 'org:admin')", true],
    ['user_outsider', "public.has_org_role('org_1', 'org:member')", false],
    ['user_admin', "public.has_org_permission('org_1', 'org:projects:write')", true],
    ['user_member', "public.has_org_permission('org_1', 'org:projects:read')", true],
    ['user_member', "public.has_org_permission('org_1', 'org:projects:write')", false],
    ['user_member', "public.has_org_permission('org_2', 'org:projects:write')", true],
    ['user_auditor', "public.has_org_permission('org_1', 'org:sys_memberships:read')", true],
    ['user_outsider', "public.has_org_permission('org_1', 'org:projects:read')", false],
    ['user_admin', "public.has_org_permission('org_2', 'org:projects:read')", false],
  ])('%s: %s is %s', async (sub, sql, expected) => {
    expect(await check(sub, sql)).toBe(expected);
  });

  it('a role permission change applies to every member at once; a deleted permission is not granted again', async () => {
    await upsert('role', [role('role_member', 'org:member', [['perm_write', 'org:projects:write']], 2)]);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:read')")).toBe(false);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:write')")).toBe(true);
    // An older version of the role is stale: its grants do not come back.
    expect(
      (await upsert('role', [role('role_member', 'org:member', [['perm_read', 'org:projects:read']], 1)])).r,
    ).toMatchObject({ stale: 1 });
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:read')")).toBe(false);
    await remove('permission', ['perm_write']);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:write')")).toBe(
      false,
    );
    await upsert('role', [role('role_member', 'org:member', [['perm_write', 'org:projects:write']], 3)]);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:write')")).toBe(
      false,
    );
    await seed();
  });

  it("a renamed permission's key follows in every grant", async () => {
    await upsert('permission', [perm('perm_read', 'org:projects:view', 2)]);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:view')")).toBe(true);
    expect(await check('user_member', "public.has_org_permission('org_1', 'org:projects:read')")).toBe(false);
    await seed();
  });

  it("while a member's role is not mirrored, the permissions Clerk listed on the membership count", async () => {
    await upsert('membership', [
      membershipRow('mem_guest', 'org_2', 'user_outsider', 1, {
        role: 'org:guest',
        permissions: ['org:projects:read'],
      }),
    ]);
    expect(await check('user_outsider', "public.has_org_permission('org_2', 'org:projects:read')")).toBe(
      true,
    );
    expect(await check('user_outsider', "public.has_org_permission('org_2', 'org:projects:write')")).toBe(
      false,
    );
    await seed();
  });

  it('are security definer, stable, search_path empty, executable by authenticated and not by anon', async () => {
    const rows = (
      await t.db.query(
        `select p.proname, p.prosecdef, p.provolatile, p.proconfig,
                has_function_privilege('authenticated', p.oid, 'execute') as auth,
                has_function_privilege('anon', p.oid, 'execute') as anon
         from pg_proc p where p.pronamespace = 'public'::regnamespace
           and p.proname in ('has_org_role', 'has_org_permission') order by 1`,
      )
    ).rows;
    expect(rows).toEqual(
      ['has_org_permission', 'has_org_role'].map((proname) => ({
        proname,
        prosecdef: true,
        provolatile: 's',
        proconfig: ['search_path=""'],
        auth: true,
        anon: false,
      })),
    );
  });
});

describe('who can read the organization tables', () => {
  beforeAll(seed, 60_000);

  async function visible(identity: string, sql: string): Promise<unknown[] | 'denied'> {
    const [r, c] = identities[identity] as [Role, object | null];
    try {
      return (await as<{ id: string }>(r, c, sql)).map((row) =>
        Object.keys(row).length === 1 ? row.id : row,
      );
    } catch (error) {
      if ((error as { code?: string }).code === '42501') return 'denied';
      throw error;
    }
  }
  const ids = (table: string) => `select id from public.${table} order by id`;
  const allRoles = ['role_admin', 'role_auditor', 'role_member'];
  const allPerms = ['perm_members', 'perm_read', 'perm_write'];

  it.each([
    ['anon', 'organization_roles', 'denied'],
    ['anon', 'organization_permissions', 'denied'],
    ['anon', 'organization_invitations', 'denied'],
    ['anon', 'organization_domains', 'denied'],
    ['member', 'organization_roles', allRoles],
    ['non-member', 'organization_roles', allRoles],
    ['non-member', 'organization_permissions', allPerms],
    ['admin', 'organization_invitations', ['inv_1', 'inv_old']],
    ['auditor', 'organization_invitations', ['inv_1', 'inv_old']],
    ['member', 'organization_invitations', ['inv_2']],
    ['invitee', 'organization_invitations', ['inv_1']],
    ['non-member', 'organization_invitations', []],
    ['service role', 'organization_invitations', ['inv_1', 'inv_2', 'inv_old']],
    ['admin', 'organization_domains', ['dom_1']],
    ['member', 'organization_domains', ['dom_1', 'dom_2']],
    ['invitee', 'organization_domains', []],
    ['non-member', 'organization_domains', []],
    ['service role', 'organization_domains', ['dom_1', 'dom_2']],
  ])('%s reading %s sees %j', async (identity, table, expected) => {
    expect(await visible(identity, ids(table))).toEqual(expected);
  });

  it('every signed-in user reads which role grants which permission; anon nothing', async () => {
    expect(
      await visible('non-member', 'select count(*)::int as id from public.organization_role_permissions'),
    ).toEqual([5]);
    expect(await visible('anon', 'select role_id as id from public.organization_role_permissions')).toBe(
      'denied',
    );
  });

  it('the url (a token) reads NULL for everyone but the service role, and private_metadata is nowhere readable', async () => {
    const sql = 'select id, status, url from public.organization_invitations order by id';
    expect(await visible('admin', sql)).toEqual([
      { id: 'inv_1', status: 'pending', url: null },
      { id: 'inv_old', status: 'expired', url: null },
    ]);
    expect(await visible('invitee', sql)).toEqual([{ id: 'inv_1', status: 'pending', url: null }]);
    expect(
      await visible(
        'service role',
        "select url as id from public.organization_invitations where id = 'inv_1'",
      ),
    ).toEqual(['https://accounts.example.com/accept?token=tok_inv_1']);
    const dump = await visible('admin', 'select * from public.organization_invitations');
    expect(JSON.stringify(dump)).not.toMatch(/secret_|tok_/);
    expect(await visible('admin', 'select * from clerk_sync.organization_invitations')).toBe('denied');
    expect(
      await visible('service role', "select public.clerk_sync_private_metadata('invitation', 'inv_1') as id"),
    ).toEqual([{ referrer: 'secret_inv_1' }]);
  });

  it.each(Object.keys(identities).filter((i) => i !== 'service role'))(
    '%s writes none of them',
    async (identity) => {
      const [r, c] = identities[identity] as [Role, object | null];
      for (const sql of [
        "insert into public.organization_roles (id, key, name, created_at, updated_at) values ('x', 'k', 'n', now(), now())",
        "update public.organization_permissions set name = 'x'",
        'delete from public.organization_role_permissions',
        "update public.organization_invitations set email_address = 'x'",
        'delete from public.organization_invitations',
        'delete from public.organization_domains',
      ]) {
        await expect(t.as(r, c, (s) => s.query(sql))).rejects.toMatchObject({ code: '42501' });
      }
    },
  );
});

describe('sync rules of the new kinds', () => {
  beforeEach(seed, 60_000);

  it('an invitation: accepted and revoked are newer versions; an older state is stale', async () => {
    const accepted = invitation('inv_1', 'org_1', 'user_invitee@example.com', {
      status: 'accepted',
      user_id: 'user_invitee',
      updated_at: at(3),
    });
    expect(await apply('organizationInvitation.accepted', accepted)).toBe('applied');
    expect(await apply('organizationInvitation.created', invitation('inv_1', 'org_1', 'x@example.com'))).toBe(
      'stale',
    );
    expect(
      await one('select status, user_id from public.organization_invitations where id = $1', ['inv_1']),
    ).toEqual({
      status: 'accepted',
      user_id: 'user_invitee',
    });
  });

  it('organization.deleted removes its invitations and domains; later events for them are stale', async () => {
    expect(await apply('organization.deleted', { id: 'org_1' })).toBe('applied');
    expect(
      await one(
        "select count(*)::int as n from clerk_sync.organization_invitations where organization_id = 'org_1'",
      ),
    ).toEqual({ n: 0 });
    expect(
      await one("select count(*)::int as n from public.organization_domains where organization_id = 'org_1'"),
    ).toEqual({ n: 0 });
    expect(
      await one(
        "select count(*)::int as n from clerk_sync.private_metadata where kind = 'invitation' and id = 'inv_1'",
      ),
    ).toEqual({ n: 0 });
    expect(
      await apply(
        'organizationInvitation.revoked',
        invitation('inv_1', 'org_1', 'a@example.com', { status: 'revoked', updated_at: at(9) }),
      ),
    ).toBe('stale');
    expect(await apply('organizationDomain.updated', domain('dom_1', 'org_1', 9))).toBe('stale');
    expect(await apply('organizationDomain.created', domain('dom_new', 'org_1', 9))).toBe('stale');
  });

  it.each<[KindName, string, object]>([
    ['role', 'role_member', role('role_member', 'org:member', [], 9)],
    ['permission', 'perm_read', perm('perm_read', 'org:projects:read', 9)],
    ['domain', 'dom_2', domain('dom_2', 'org_2', 9)],
  ])('a deleted %s stays deleted (tombstone)', async (kind, id, newer) => {
    expect((await remove(kind, [id])).r).toMatchObject({ deleted: 1, tombstoned: 1 });
    expect((await upsert(kind, [newer])).r).toMatchObject({ deleted: 1, inserted: 0 });
  });

  it('duplicates: the same role event twice has one effect', async () => {
    const data = role('role_new', 'org:new', [['perm_read', 'org:projects:read']]);
    const { o } = await one<{ o: string }>(
      "select public.clerk_sync_apply_event(event_id => 'dup_1', event_type => 'role.created', kind => 'role', op => 'upsert', data => $1) as o",
      [JSON.stringify(data)],
    );
    expect(o).toBe('applied');
    const again = await one<{ o: string }>(
      "select public.clerk_sync_apply_event(event_id => 'dup_1', event_type => 'role.created', kind => 'role', op => 'upsert', data => $1) as o",
      [JSON.stringify(data)],
    );
    expect(again.o).toBe('duplicate');
  });

  it('an invitation accepted by a user already deleted goes with the user, and stays gone', async () => {
    await apply('organizationInvitation.created', invitation('inv_late', 'org_1', 'gone@example.com'));
    await remove('user', ['user_gone']);
    // The acceptance names the deleted user: refused, and the pending version stored earlier goes.
    const accepted = invitation('inv_late', 'org_1', 'gone@example.com', {
      status: 'accepted',
      user_id: 'user_gone',
      updated_at: at(2),
    });
    expect(await apply('organizationInvitation.accepted', accepted)).toBe('stale');
    const gone = "select count(*)::int as n from clerk_sync.organization_invitations where id = 'inv_late'";
    expect(await one(gone)).toEqual({ n: 0 });
    expect(
      await apply('organizationInvitation.created', invitation('inv_late', 'org_1', 'gone@example.com')),
    ).toBe('stale');
    expect(await one(gone)).toEqual({ n: 0 });
    expect(
      await one(
        "select count(*)::int as n from clerk_sync.private_metadata where kind = 'invitation' and id = 'inv_late'",
      ),
    ).toEqual({ n: 0 });
  });

  it('user.deleted erases the invitations the user accepted', async () => {
    await upsert('invitation', [
      invitation('inv_acc', 'org_1', 'user_invitee@example.com', {
        status: 'accepted',
        user_id: 'user_invitee',
      }),
    ]);
    await remove('user', ['user_invitee']);
    expect(
      await one("select count(*)::int as n from clerk_sync.organization_invitations where id = 'inv_acc'"),
    ).toEqual({ n: 0 });
    // Its first version, pending and naming no user, delivered late: the invitation stays erased.
    expect(
      await apply(
        'organizationInvitation.created',
        invitation('inv_acc', 'org_1', 'user_invitee@example.com'),
      ),
    ).toBe('stale');
    expect(
      await one("select count(*)::int as n from clerk_sync.organization_invitations where id = 'inv_acc'"),
    ).toEqual({ n: 0 });
  });
});
