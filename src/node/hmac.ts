/**
 * @module Node's native HMAC-SHA256 for Svix signature checks (≈15× cheaper than the pure-JS default).
 */
import { createHmac } from 'node:crypto';
import type { HmacSha256 } from '../app/verify.ts';

export const nodeHmac: HmacSha256 = (key, data) => createHmac('sha256', key).update(data).digest('base64');
