import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/core/dispatch.ts';
import { withData } from '../fixtures/clerk-examples.ts';

const email = (
  id: string,
  address: string,
  verification: unknown = { status: 'verified', strategy: 'email_code' },
) => ({
  id,
  object: 'email_address',
  email_address: address,
  verification,
  linked_to: [],
});
const phone = (id: string, number: string) => ({
  id,
  object: 'phone_number',
  phone_number: number,
  verification: null,
});

// The Clerk fields with a column of their own (src/core/rows.ts); everything else goes to attrs.
const USER_COLUMNS = [
  'id',
  'username',
  'first_name',
  'last_name',
  'image_url',
  'external_id',
  'public_metadata',
  'unsafe_metadata',
  'private_metadata',
  'last_sign_in_at',
  'banned',
  'locked',
  'created_at',
  'updated_at',
];
const ORGANIZATION_COLUMNS = [
  'id',
  'name',
  'slug',
  'image_url',
  'public_metadata',
  'private_metadata',
  'created_by',
  'created_at',
  'updated_at',
];

/** The row `interpret` produces for the user example with `patch` applied to its data. */
function userRow(patch: Record<string, unknown>): unknown {
  const result = interpret(withData('user.created.json', patch));
  expect(result).toMatchObject({ kind: 'apply', objectKind: 'user', op: 'upsert' });
  return 'data' in result ? result.data : undefined;
}

describe('user row', () => {
  it.each([
    [
      'primary email picked by id when it is not first',
      {
        email_addresses: [email('idn_a', 'old@example.com'), email('idn_b', 'primary@example.com')],
        primary_email_address_id: 'idn_b',
      },
      { email: 'primary@example.com' },
    ],
    [
      'no primary email id: null, not the first entry',
      { email_addresses: [email('idn_a', 'a@example.com')], primary_email_address_id: null },
      { email: null },
    ],
    [
      'primary email id matching no entry: null',
      { email_addresses: [email('idn_a', 'a@example.com')], primary_email_address_id: 'idn_gone' },
      { email: null },
    ],
    [
      'primary phone picked by id',
      {
        phone_numbers: [phone('idn_p1', '+15555550101'), phone('idn_p2', '+15555550102')],
        primary_phone_number_id: 'idn_p2',
      },
      { phone: '+15555550102' },
    ],
    [
      'verification as an array',
      {
        email_addresses: [email('idn_a', 'a@example.com', [{ status: 'verified' }])],
        primary_email_address_id: 'idn_a',
      },
      {
        email: 'a@example.com',
        attrs: { email_addresses: [expect.objectContaining({ verification: [{ status: 'verified' }] })] },
      },
    ],
    [
      'verification null and missing',
      {
        email_addresses: [
          email('idn_a', 'a@example.com', null),
          { id: 'idn_b', email_address: 'b@example.com' },
        ],
        primary_email_address_id: 'idn_b',
      },
      { email: 'b@example.com' },
    ],
    [
      'null names',
      { first_name: null, last_name: null, username: null },
      { first_name: null, last_name: null, username: null },
    ],
    ['missing names', { first_name: undefined, last_name: undefined }, { first_name: null, last_name: null }],
    [
      'image_url falls back to profile_image_url',
      { image_url: undefined, profile_image_url: 'https://img.clerk.com/p' },
      { image_url: 'https://img.clerk.com/p' },
    ],
    [
      'null metadata becomes {}',
      { public_metadata: null, unsafe_metadata: null, private_metadata: null },
      { public_metadata: {}, unsafe_metadata: {}, private_metadata: {} },
    ],
    [
      'missing banned/locked/last_sign_in_at',
      { banned: undefined, locked: undefined, last_sign_in_at: undefined },
      { banned: false, locked: false, last_sign_in_at: null },
    ],
    ['epoch ms to ISO', { created_at: 1700000000123 }, { created_at: '2023-11-14T22:13:20.123Z' }],
    [
      'unknown fields kept in attrs',
      { clerk_field_from_2030: { nested: [1, 'two'] }, has_image: true },
      { attrs: expect.objectContaining({ clerk_field_from_2030: { nested: [1, 'two'] }, has_image: true }) },
    ],
  ])('%s', (_label, patch, expected) => {
    expect(userRow(patch)).toMatchObject(expected);
  });

  it('keeps private_metadata out of attrs, and columns out of attrs', () => {
    const row = userRow({ private_metadata: { stripe_id: 'cus_secret' } });
    expect(row).toMatchObject({ private_metadata: { stripe_id: 'cus_secret' } });
    const attrs = (row as { attrs: Record<string, unknown> }).attrs;
    expect(JSON.stringify(attrs)).not.toContain('cus_secret');
    for (const column of [
      'private_metadata',
      'id',
      'first_name',
      'image_url',
      'public_metadata',
      'updated_at',
    ]) {
      expect(attrs).not.toHaveProperty(column);
    }
    expect(attrs).toHaveProperty('email_addresses');
    expect(attrs).toHaveProperty('primary_email_address_id');
  });

  it.each([
    ['user.created.json', USER_COLUMNS],
    ['organization.created.json', ORGANIZATION_COLUMNS],
  ])('%s: attrs is every field without a column, nothing more', (file, columns) => {
    const event = withData(file, { clerk_field_from_2030: { nested: [1] } });
    const data = event.data as Record<string, unknown>;
    const result = interpret(event);
    const attrs = ('data' in result ? (result.data as { attrs: object }).attrs : null) as object;
    const others = Object.entries(data).filter(([key]) => !columns.includes(key));
    expect(attrs).toEqual(Object.fromEntries(others));
  });
});

describe('organization row', () => {
  it.each([
    ['null slug and image', { slug: null, image_url: undefined }, { slug: null, image_url: null }],
    ['missing created_by', { created_by: undefined }, { created_by: null }],
    [
      'unknown fields kept in attrs',
      { role_set_key: 'default' },
      { attrs: expect.objectContaining({ role_set_key: 'default' }) },
    ],
  ])('%s', (_label, patch, expected) => {
    expect(interpret(withData('organization.created.json', patch))).toMatchObject({
      kind: 'apply',
      data: expected,
    });
  });

  it('keeps private_metadata out of attrs', () => {
    const result = interpret(
      withData('organization.updated.json', { private_metadata: { billing: 'acct_secret' } }),
    );
    expect(result).toMatchObject({ data: { private_metadata: { billing: 'acct_secret' } } });
    expect(result).not.toHaveProperty('data.attrs.private_metadata');
    expect(
      JSON.stringify('data' in result && 'attrs' in result.data ? result.data.attrs : null),
    ).not.toContain('acct_secret');
  });
});

describe('membership row', () => {
  it.each([
    [
      'null permissions and metadata',
      { permissions: null, public_metadata: null },
      { permissions: [], public_metadata: {} },
    ],
    [
      'private_metadata kept in its own field',
      { private_metadata: { note: 'x' } },
      { private_metadata: { note: 'x' } },
    ],
  ])('%s', (_label, patch, expected) => {
    expect(interpret(withData('organizationMembership.created.json', patch))).toMatchObject({
      kind: 'apply',
      data: expected,
    });
  });

  it('takes only ids from the embedded organization and user', () => {
    const result = interpret(withData('organizationMembership.created.json', {}));
    expect(result).not.toHaveProperty('data.organization');
    expect(result).not.toHaveProperty('data.public_user_data');
  });
});
