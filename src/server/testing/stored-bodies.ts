import type { Cluster, Redis } from 'ioredis';
import { keys, messageBucketOf, messageBuckets } from '~/server/redis/keys';

/**
 * What tests read, count or damage behind the store's back: a session's stored message bodies, in their
 * buckets (keys.ts). The session's lastSeq says which buckets there are.
 */
async function bucketsOf(redis: Redis | Cluster, pid: string, sid: string): Promise<string[]> {
  return messageBuckets(pid, sid, Number((await redis.hget(keys.session(pid, sid), 'lastSeq')) ?? 0));
}

/** The bucket key holding a seq's body. */
export const bodyKey = (pid: string, sid: string, seq: number | string) => keys.messageBucket(pid, sid, messageBucketOf(Number(seq)));

/** seq -> body of every stored message of the session. */
export async function storedBodies(redis: Redis | Cluster, pid: string, sid: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const bucket of await bucketsOf(redis, pid, sid)) Object.assign(out, await redis.hgetall(bucket));
  return out;
}

/** How many bodies of the session Redis holds. */
export async function storedBodyCount(redis: Redis | Cluster, pid: string, sid: string): Promise<number> {
  let n = 0;
  for (const bucket of await bucketsOf(redis, pid, sid)) n += await redis.hlen(bucket);
  return n;
}

/** Every key a session's messages may be in (its buckets, and the one hash of the pre-bucket layout): to lose them all. */
export async function messageKeys(redis: Redis | Cluster, pid: string, sid: string): Promise<string[]> {
  return [keys.messages(pid, sid), ...(await bucketsOf(redis, pid, sid))];
}
