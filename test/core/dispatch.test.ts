import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/core/dispatch.ts';
import { isMirroredEventType } from '../../src/core/kinds.ts';
import { example, exampleFiles, withData } from '../fixtures/clerk-examples.ts';

const USER = 'user_2g7np7Hrk0SN6kj5EDMLDaKNL0S';
const ORG = 'org_2g7np7Hrk0SN6kj5EDMLDaKNL0S';
const MEMBERSHIP = 'orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S';
const MEMBER = 'user_2h8op3Isl1QR7tKu5FGNfaLKEoU';
// The OpenAPI examples' envelope timestamp, 1716883200, is in seconds.
const T0 = '2024-05-28T08:00:00.000Z';
const T5 = '2024-05-28T08:05:00.000Z';

describe('interpret: Clerk example payloads of mirrored types', () => {
  it.each<readonly [string, Record<string, unknown>]>([
    [
      'user.created.json',
      {
        type: 'user.created',
        objectKind: 'user',
        op: 'upsert',
        objectId: USER,
        occurredAt: T0,
        data: {
          id: USER,
          username: null,
          first_name: 'John',
          last_name: 'Doe',
          image_url: 'https://img.clerk.com/xxxxxx',
          email: null,
          phone: null,
          private_metadata: {},
          last_sign_in_at: T0,
          banned: false,
          created_at: T0,
          updated_at: T0,
          attrs: { email_addresses: [], password_enabled: true, last_active_at: 1716883200000 },
        },
      },
    ],
    [
      'user.created.docs-example.json',
      {
        type: 'user.created',
        objectId: 'user_29w83sxmDNGwOuEthce5gg56FcC',
        occurredAt: '2022-05-31T15:56:31.835Z',
        data: {
          email: 'example@example.org',
          external_id: '567772',
          first_name: 'Example',
          locked: false,
          created_at: '2022-05-31T15:56:31.514Z',
          updated_at: '2022-05-31T15:56:31.835Z',
          attrs: { birthday: '', gender: '' },
        },
      },
    ],
    [
      'user.updated.json',
      {
        type: 'user.updated',
        op: 'upsert',
        objectId: USER,
        data: {
          username: 'johndoe',
          last_name: 'Doe Updated',
          image_url: 'https://img.clerk.com/yyyyy',
          public_metadata: { department: 'engineering' },
          last_sign_in_at: '2024-05-28T08:03:20.000Z',
          updated_at: T5,
        },
      },
    ],
    ['user.deleted.json', { type: 'user.deleted', objectKind: 'user', op: 'delete', objectId: USER }],
    [
      'organization.created.json',
      {
        type: 'organization.created',
        objectKind: 'organization',
        op: 'upsert',
        objectId: ORG,
        data: {
          name: 'Acme Corp',
          slug: 'acme-corp',
          created_by: USER,
          created_at: T0,
          attrs: { members_count: 1, has_image: true },
        },
      },
    ],
    [
      'organization.updated.json',
      {
        type: 'organization.updated',
        op: 'upsert',
        data: {
          name: 'Acme Corp Updated',
          public_metadata: { department: 'engineering' },
          private_metadata: { internal_id: 'ORG-123' },
          updated_at: T5,
        },
      },
    ],
    [
      'organization.deleted.json',
      { type: 'organization.deleted', objectKind: 'organization', op: 'delete', objectId: ORG },
    ],
    [
      'organizationMembership.created.json',
      {
        type: 'organizationMembership.created',
        objectKind: 'membership',
        op: 'upsert',
        objectId: MEMBERSHIP,
        data: {
          id: MEMBERSHIP,
          organization_id: ORG,
          user_id: MEMBER,
          role: 'org:member',
          permissions: ['org:posts:read', 'org:posts:write'],
          public_metadata: {},
          private_metadata: {},
          created_at: T0,
          updated_at: T0,
        },
      },
    ],
    [
      'organizationMembership.updated.json',
      {
        type: 'organizationMembership.updated',
        op: 'upsert',
        data: {
          role: 'org:admin',
          permissions: expect.arrayContaining(['org:members:manage']),
          updated_at: T5,
        },
      },
    ],
    [
      'organizationMembership.deleted.json',
      {
        type: 'organizationMembership.deleted',
        objectKind: 'membership',
        op: 'delete',
        objectId: MEMBERSHIP,
        data: { id: MEMBERSHIP, organization_id: ORG, user_id: MEMBER },
      },
    ],
    [
      'role.created.json',
      {
        objectKind: 'role',
        op: 'upsert',
        objectId: 'role_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        data: {
          key: 'org:content_manager',
          is_creator_eligible: false,
          permissions: [{ id: 'perm_2g7np7Hrk0SN6kj5EDMLDaKNL0S', key: 'org:posts:create' }],
        },
      },
    ],
    // Clerk's example sends the key without its prefix; Clerk treats it as org:editor.
    [
      'role.updated.json',
      { objectKind: 'role', op: 'upsert', data: { key: 'org:editor', is_creator_eligible: null } },
    ],
    [
      'role.deleted.json',
      { objectKind: 'role', op: 'delete', data: { id: 'role_2g7np7Hrk0SN6kj5EDMLDaKNL0S' } },
    ],
    [
      'permission.created.json',
      { objectKind: 'permission', op: 'upsert', data: { key: 'org:posts:create', type: 'custom' } },
    ],
    [
      'permission.updated.json',
      { objectKind: 'permission', op: 'upsert', data: { name: 'Create and Edit Posts' } },
    ],
    [
      'permission.deleted.json',
      { objectKind: 'permission', op: 'delete', objectId: 'perm_2g7np7Hrk0SN6kj5EDMLDaKNL0S' },
    ],
    [
      'organizationInvitation.created.json',
      {
        objectKind: 'invitation',
        op: 'upsert',
        data: {
          organization_id: 'org_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
          email_address: 'jane.doe@acme.com',
          role: 'org:member',
          status: 'pending',
          user_id: null,
          url: 'https://accounts.acme.com/accept-invitation?token=abc123',
          expires_at: new Date(1717487999000).toISOString(),
        },
      },
    ],
    [
      'organizationInvitation.accepted.json',
      {
        objectKind: 'invitation',
        op: 'upsert',
        data: { status: 'accepted', user_id: 'user_2h8op3Isl1QR7tKu5FGNfaLKEoU' },
      },
    ],
    [
      'organizationInvitation.revoked.json',
      { objectKind: 'invitation', op: 'upsert', data: { status: 'revoked' } },
    ],
    [
      'organizationDomain.created.json',
      {
        objectKind: 'domain',
        op: 'upsert',
        data: { name: 'acme.com', enrollment_mode: 'automatic_invitation', verified: false },
      },
    ],
    [
      'organizationDomain.updated.json',
      {
        objectKind: 'domain',
        op: 'upsert',
        data: { enrollment_mode: 'automatic_suggestion', verified: true },
      },
    ],
    [
      'organizationDomain.deleted.json',
      { objectKind: 'domain', op: 'delete', objectId: 'orgdm_2g7np7Hrk0SN6kj5EDMLDaKNL0S' },
    ],
    ...(['created', 'updated', 'active', 'pastDue'] as const).map(
      (verb) =>
        [
          `subscription.${verb}.json`,
          {
            objectKind: 'subscription',
            op: 'upsert',
            data: {
              payer_id: 'cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
              user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
              // Clerk's "" for the payer's other id.
              organization_id: null,
              status: verb === 'pastDue' ? 'past_due' : 'active',
              // Nested items take the subscription's id and payer, which Clerk leaves out of them.
              items: [
                {
                  id: 'csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
                  subscription_id: 'csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
                  user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
                  plan_slug: 'pro-plan',
                },
              ],
            },
          },
        ] as const,
    ),
    ...(
      [
        ['abandoned', 'abandoned'],
        ['active', 'active'],
        ['canceled', 'canceled'],
        ['ended', 'ended'],
        ['freeTrialEnding', 'active'],
        ['incomplete', 'incomplete'],
        ['pastDue', 'past_due'],
        ['upcoming', 'upcoming'],
        ['updated', 'active'],
      ] as const
    ).map(
      ([verb, status]) =>
        [
          `subscriptionItem.${verb}.json`,
          {
            objectKind: 'subscriptionItem',
            op: 'upsert',
            data: {
              status,
              is_free_trial: verb === 'freeTrialEnding',
              subscription_id: 'csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
              payer_id: 'cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
              user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
              organization_id: null,
              plan_id: 'cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
            },
          },
        ] as const,
    ),
    [
      'paymentAttempt.created.json',
      {
        objectKind: 'paymentAttempt',
        op: 'upsert',
        data: {
          status: 'pending',
          amount: 2200,
          currency: 'USD',
          user_id: 'user_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
          paid_at: null,
        },
      },
    ],
    [
      'paymentAttempt.updated.json',
      {
        objectKind: 'paymentAttempt',
        op: 'upsert',
        data: { status: 'paid', paid_at: '2024-05-28T08:05:00.000Z', organization_id: null },
      },
    ],
  ])('%s', (file, expected) => {
    expect(interpret(example(file))).toMatchObject({ kind: 'apply', ...expected });
  });

  it.each([
    ['user.deleted.json', { id: USER }],
    ['organization.deleted.json', { id: ORG }],
  ])('%s: the delete key is only the id', (file, expected) => {
    expect(interpret(example(file))).toMatchObject({ data: expected });
    expect(interpret(example(file))).not.toHaveProperty('data.external_id');
  });

  it('covers every mirrored example file', () => {
    const mirrored = exampleFiles.filter((f) => isMirroredEventType(f.split('.').slice(0, 2).join('.')));
    expect(mirrored).toHaveLength(37);
  });
});

describe('interpret: event types we do not mirror', () => {
  it.each(
    exampleFiles
      .filter((f) => !isMirroredEventType(f.split('.').slice(0, 2).join('.')))
      .map((f) => [f, example(f), { kind: 'ignored', type: f.replace(/\.json$/, '') }] as const),
  )('%s', (_label, payload, expected) => {
    expect(interpret(payload)).toEqual(expected);
  });

  it.each([
    ['session.created', { object: 'event', type: 'session.created', timestamp: 1716883200000, data: {} }],
    [
      'a type Clerk adds later',
      { object: 'event', type: 'user.exploded', timestamp: 1716883200000, data: {} },
    ],
  ])('%s', (_label, payload) => {
    expect(interpret(payload)).toEqual({ kind: 'ignored', type: payload.type });
  });
});

describe('interpret: envelope timestamp', () => {
  it.each([
    ['seconds', 1716883200, '2024-05-28T08:00:00.000Z'],
    ['fractional seconds', 1716883200.5, '2024-05-28T08:00:00.500Z'],
    ['milliseconds', 1716883200123, '2024-05-28T08:00:00.123Z'],
    ['10^12 is already ms', 1e12, '2001-09-09T01:46:40.000Z'],
    ['missing: null, never a failure', undefined, null],
    ['a string: null', '1716883200', null],
    ['negative: null', -1, null],
    ['past what a Date holds: null', 1e300, null],
  ])('%s', (_label, timestamp, occurredAt) => {
    expect(interpret({ ...example('user.created.json'), timestamp })).toMatchObject({
      kind: 'apply',
      occurredAt,
    });
  });
});

describe('interpret: verified but not applicable', () => {
  it.each([
    ['missing data.id', withData('user.created.json', { id: undefined }), 'user.created', null, 'data.id'],
    [
      'empty data.id',
      withData('organization.created.json', { id: '' }),
      'organization.created',
      null,
      'data.id',
    ],
    [
      'deleted event without id',
      withData('user.deleted.json', { id: undefined }),
      'user.deleted',
      null,
      'data.id',
    ],
    [
      'non-numeric updated_at',
      withData('user.updated.json', { updated_at: '2024-05-28T08:05:00Z' }),
      'user.updated',
      USER,
      'data.updated_at',
    ],
    [
      'fractional created_at',
      withData('organization.updated.json', { created_at: 1716883200000.5 }),
      'organization.updated',
      ORG,
      'data.created_at',
    ],
    [
      'membership without public_user_data',
      withData('organizationMembership.created.json', { public_user_data: undefined }),
      'organizationMembership.created',
      MEMBERSHIP,
      'data.public_user_data',
    ],
    [
      'data of another object',
      { ...example('organization.created.json'), type: 'user.created' },
      'user.created',
      ORG,
      'data.object',
    ],
    [
      'envelope object is not "event"',
      { ...example('user.created.json'), object: 'user' },
      'user.created',
      USER,
      'object',
    ],
    ['data is null', { ...example('user.created.json'), data: null }, 'user.created', null, 'data'],
    [
      'unmirrored type with a bad envelope',
      { type: 'session.created', data: {} },
      'session.created',
      null,
      'object',
    ],
  ])('%s', (_label, payload, type, objectId, path) => {
    const result = interpret(payload);
    expect(result).toMatchObject({ kind: 'invalid', type, objectId });
    expect(result).toHaveProperty('error', expect.stringContaining(`${path}:`));
  });

  it('describes problems without echoing values', () => {
    const secret = 'jane.doe@secret.example';
    const result = interpret(
      withData('user.created.json', { updated_at: secret, username: 42, email_addresses: [{ id: secret }] }),
    );
    expect(result).toMatchObject({ kind: 'invalid' });
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(JSON.stringify(result)).not.toContain('42');
  });
});

describe('interpret: not an event at all', () => {
  it.each([
    ['null', null],
    ['array', []],
    ['string', 'x'],
    ['number', 42],
    ['empty object', {}],
    ['numeric type', { type: 5 }],
    ['array with a type', Object.assign([], { type: 'user.created' })],
  ])('%s', (_label, payload) => {
    expect(interpret(payload)).toMatchObject({ kind: 'invalid', type: 'unknown', objectId: null });
  });
});
