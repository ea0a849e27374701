import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/core/dispatch.ts';
import { MIRRORED_EVENT_TYPES } from '../../src/core/kinds.ts';
import { sampleEvent } from '../../src/core/samples.ts';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const ISO = '2026-01-02T03:04:05.678Z';

describe('sampleEvent', () => {
  it.each(
    MIRRORED_EVENT_TYPES.map((type) => [
      type,
      type,
      {
        kind: 'apply',
        type,
        op: type.endsWith('.deleted') ? 'delete' : 'upsert',
        occurredAt: ISO,
      },
    ]),
  )('%s interprets to apply', (_label, type, expected) => {
    const event = sampleEvent(type, { now: NOW });
    expect(interpret(event)).toMatchObject({ ...expected, objectId: event.data.id });
  });

  it.each([
    ['user', 'user.created', /^user_[0-9A-Za-z]{27}$/],
    ['organization', 'organization.created', /^org_[0-9A-Za-z]{27}$/],
    ['membership', 'organizationMembership.created', /^orgmem_[0-9A-Za-z]{27}$/],
  ] as const)('fresh %s ids', (_label, type, pattern) => {
    const [a, b] = [sampleEvent(type), sampleEvent(type)];
    expect(a.data.id).toMatch(pattern);
    expect(a.data.id).not.toBe(b.data.id);
  });

  it('a user sample has one verified primary email and one primary phone', () => {
    const result = interpret(sampleEvent('user.updated', { id: 'user_fixed', now: NOW }));
    expect(result).toMatchObject({
      objectId: 'user_fixed',
      data: {
        email: expect.stringMatching(/@example\.com$/),
        phone: '+15555550100',
        created_at: ISO,
        updated_at: ISO,
        attrs: { email_addresses: [{ verification: { status: 'verified' } }] },
      },
    });
  });

  it('a membership sample links the given user and organization', () => {
    const result = interpret(
      sampleEvent('organizationMembership.deleted', { userId: 'user_u', orgId: 'org_o' }),
    );
    expect(result).toMatchObject({ op: 'delete', data: { organization_id: 'org_o', user_id: 'user_u' } });
  });
});
