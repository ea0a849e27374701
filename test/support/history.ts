/**
 * @module A history for the fault tests: `versions` versions of `objects` users, organizations and
 * memberships (ids tagged `tag`), each version named `v<n>`, as signed deliveries in random order.
 */
import { sampleEvent } from '../../src/core/samples.ts';
import { type Delivery, signed } from './webhooks.ts';

export function versionHistory(objects: number, versions: number, tag: string): Delivery[] {
  const deliveries: Delivery[] = [];
  const base = Date.UTC(2026, 0, 1);
  for (let o = 0; o < objects; o++)
    for (let v = 1; v <= versions; v++) {
      const now = base + v * 1_000;
      const user = sampleEvent('user.updated', { id: `user_${tag}${o}`, now });
      const org = sampleEvent('organization.updated', { id: `org_${tag}${o}`, now });
      const mem = sampleEvent('organizationMembership.updated', {
        id: `orgmem_${tag}${o}`,
        orgId: `org_${tag}${o}`,
        userId: `user_${tag}${o}`,
        now,
      });
      (user.data as { first_name: string }).first_name = `v${v}`;
      (org.data as { name: string }).name = `v${v}`;
      (mem.data as { role: string }).role = `org:v${v}`;
      deliveries.push(signed(user), signed(org), signed(mem));
    }
  return deliveries.sort(() => Math.random() - 0.5);
}
