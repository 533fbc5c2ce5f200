import { describe, expect, it } from 'vitest';
import { legacyTimeToIso, parseLegacyTime } from './format';
import { isUuid, parleyIdFor, uuidV5 } from './ids';

describe('legacy times', () => {
  it('reads Python isoformat (no zone = UTC) to the microsecond', () => {
    expect(parseLegacyTime('2024-03-01T09:00:00.123456')).toBe(Date.parse('2024-03-01T09:00:00.123Z') * 1000 + 456);
    expect(parseLegacyTime('2024-03-01T09:00:00')).toBe(Date.parse('2024-03-01T09:00:00Z') * 1000);
    expect(parseLegacyTime('2024-03-01T10:00:00+01:00')).toBe(Date.parse('2024-03-01T09:00:00Z') * 1000);
    expect(parseLegacyTime('yesterday')).toBeNull();
    expect(legacyTimeToIso('2024-03-01T09:00:00.123456')).toBe('2024-03-01T09:00:00.123Z');
  });
});

describe('ids', () => {
  it('keeps UUIDs and maps other ids to stable name-based UUIDs (RFC 9562 v5)', () => {
    // The RFC's own example: DNS namespace, "www.example.com".
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    const uuid = '7F9C2A4E-1B3D-4C5E-8F6A-0B1C2D3E4F50';
    expect(parleyIdFor('message', uuid, 'acme')).toBe(uuid.toLowerCase());
    const mapped = parleyIdFor('message', 'msg-1', 'acme');
    expect(isUuid(mapped)).toBe(true);
    expect(parleyIdFor('message', 'msg-1', 'acme')).toBe(mapped);
    expect(parleyIdFor('message', 'msg-1', 'globex')).not.toBe(mapped);
    expect(parleyIdFor('session', 'msg-1', 'acme')).not.toBe(mapped);
  });
});
