import 'server-only';
import { createHash } from 'node:crypto';

/**
 * Parley ids are UUIDs (projects, sessions and messages are addressed by them in every procedure).
 * Legacy ids were usually `uuid4()` strings and are then kept as they are; any other legacy id is
 * turned into a name-based UUID (RFC 9562 version 5, SHA-1) of a fixed namespace and a scoped name,
 * so the same legacy record always lands on the same Parley id: that is what makes reruns idempotent.
 */
const NAMESPACE = 'b5a3c1e2-7f0d-4b7e-9c52-6a1f3e0d8c47';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function uuidV5(name: string, namespace: string = NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The Parley id of a legacy id: itself when it is a UUID (lower-cased), else a v5 UUID of `scope:id`. */
export function parleyIdFor(scope: 'project' | 'session' | 'message', legacyId: string, within = ''): string {
  if (isUuid(legacyId)) return legacyId.toLowerCase();
  return uuidV5(`${scope}:${within}:${legacyId}`);
}
