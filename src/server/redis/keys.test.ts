import { describe, expect, it } from 'vitest';
import {
  AI_JOBS_PATTERN,
  idInKey,
  keyPattern,
  keys,
  legacyKeys,
  legacyLedgerField,
  parseLegacyKey,
  parseLegacyLedgerField,
  MESSAGE_ID_BUCKETS,
  messageBucketOf,
  messageBuckets,
  messageIdBucketOf,
  messageIdField,
} from './keys';

const PID = '0b7d3a52-8f43-4c1e-9a55-3d1c2b8e7f60';

describe('key patterns and parsers', () => {
  it('reads back the id every one-id builder puts into its key', () => {
    for (const build of [keys.project, keys.sessions, keys.aiJobs, keys.wakeChannel, keys.user, keys.loginSession]) {
      expect(idInKey(build, build(PID))).toBe(PID);
    }
  });

  it('refuses keys of another shape, also longer keys of the same prefix', () => {
    expect(idInKey(keys.sessions, keys.session(PID, 's1'))).toBeNull();
    expect(idInKey(keys.project, keys.sessions(PID))).toBeNull();
    expect(idInKey(keys.user, keys.userProjects('u1'))).toBeNull();
    expect(idInKey(keys.aiJobs, keys.aiRunning(PID))).toBeNull();
    expect(idInKey(keys.project, 'project:{}')).toBeNull();
    expect(idInKey(keys.wakeChannel, 'project:{a}:wake:{b}:wake')).toBeNull();
  });

  it('makes SCAN patterns from the builders', () => {
    expect(keyPattern(keys.sessions)).toBe('project:{*}:sessions');
    expect(AI_JOBS_PATTERN).toBe('project:{*}:ai:jobs');
    expect(keyPattern(keys.loginSession)).toBe('auth:session:*');
  });

  it('buckets bodies by 128 consecutive seqs and ids by their last two hex digits', () => {
    expect([1, 128, 129, 256, 257].map(messageBucketOf)).toEqual([0, 0, 1, 1, 2]);
    expect(messageBuckets(PID, 's1', 0)).toEqual([]);
    expect(messageBuckets(PID, 's1', 129)).toEqual([keys.messageBucket(PID, 's1', 0), keys.messageBucket(PID, 's1', 1)]);
    expect(keys.messageBucket(PID, 's1', 3)).toBe(`${keys.messages(PID, 's1')}:3`);
    expect(messageIdBucketOf(PID)).toBe('60');
    expect(messageIdBucketOf(PID.toUpperCase())).toBe('60');
    expect(messageIdBucketOf('m-1')).toBe('x');
    expect(new Set(MESSAGE_ID_BUCKETS).size).toBe(257);
    expect(keys.messageIdBucket(PID, '60')).toBe(`${keys.messageIds(PID)}:60`);
  });

  it('packs UUIDs in the id index and keeps other ids as text that cannot collide with them', () => {
    expect(messageIdField(PID)).toEqual(Buffer.from(PID.replaceAll('-', ''), 'hex'));
    expect(messageIdField(PID.toUpperCase())).toBe(PID.toUpperCase());
    expect(messageIdField('m-1')).toBe('m-1');
    expect(messageIdField('0123456789abcdef')).toBe(':0123456789abcdef');
  });

  it('round-trips the legacy ledger fields', () => {
    expect(parseLegacyLedgerField(legacyLedgerField.project(PID))).toEqual({ kind: 'project', pid: PID });
    expect(parseLegacyLedgerField(legacyLedgerField.session(PID, 's1'))).toEqual({ kind: 'session', pid: PID, sid: 's1' });
    expect(parseLegacyLedgerField(legacyLedgerField.message(PID, 'm1'))).toEqual({ kind: 'message', pid: PID, mid: 'm1' });
    for (const bad of ['', 'p', 'x:1', 's:1', 'm:1:']) expect(parseLegacyLedgerField(bad)).toBeNull();
  });
});

describe('legacy keys', () => {
  it('recognizes the three old layouts and never Parley keys', () => {
    expect(parseLegacyKey('project:acme:memory:chat:m1')).toEqual({ kind: 'memory', pid: 'acme', type: 'chat', key: 'm1' });
    expect(parseLegacyKey('session_abc')).toEqual({ kind: 'blob', sid: 'abc' });
    expect(parseLegacyKey('project:acme:sessions')).toEqual({ kind: 'sessionSet', pid: 'acme' });
    expect(parseLegacyKey('project:acme:sessions:s1')).toEqual({ kind: 'sessionHash', pid: 'acme', sid: 's1' });
    expect(parseLegacyKey('project:acme:sessions:s1:messages')).toEqual({ kind: 'messageList', pid: 'acme', sid: 's1' });
    expect(parseLegacyKey('project:acme:sessions:s1:messages:m1')).toEqual({ kind: 'messageBody', pid: 'acme', sid: 's1', mid: 'm1' });
    for (const parley of ['project:{p1}', 'project:{p1}:sessions', 'project:{p1}:sessions:s1:messages', 'project:{p1}:sessions:s1:messages:0', 'project:{p1}:messages:ids:ab', 'user:u1', 'session_']) {
      expect(parseLegacyKey(parley)).toBeNull();
    }
  });

  it('parses what the legacy builders write', () => {
    expect(parseLegacyKey(legacyKeys.memory('acme', 'chat', 'm:1'))).toEqual({ kind: 'memory', pid: 'acme', type: 'chat', key: 'm:1' });
    expect(parseLegacyKey(legacyKeys.blob('s1'))).toEqual({ kind: 'blob', sid: 's1' });
    expect(parseLegacyKey(legacyKeys.sessionSet('acme'))).toEqual({ kind: 'sessionSet', pid: 'acme' });
    expect(parseLegacyKey(legacyKeys.sessionHash('acme', 's1'))).toEqual({ kind: 'sessionHash', pid: 'acme', sid: 's1' });
    expect(parseLegacyKey(legacyKeys.messageList('acme', 's1'))).toEqual({ kind: 'messageList', pid: 'acme', sid: 's1' });
    expect(parseLegacyKey(legacyKeys.messageBody('acme', 's1', 'm1'))).toEqual({ kind: 'messageBody', pid: 'acme', sid: 's1', mid: 'm1' });
  });
});
