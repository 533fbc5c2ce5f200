import 'server-only';
import type { ScriptedRedis } from './scripts';

/**
 * Every key matching `match` of Redis type `type`, by SCAN (1000 a step, never blocking Redis). As
 * with SCAN itself, a key created or deleted meanwhile may or may not be seen, and one may be seen twice.
 */
export async function* scanKeys(redis: ScriptedRedis, match: string, type: string): AsyncGenerator<string> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000, 'TYPE', type);
    cursor = next;
    yield* found;
  } while (cursor !== '0');
}
