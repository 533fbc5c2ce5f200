import 'server-only';
import { keyspaceNodes } from './cluster';
import type { ScriptedRedis } from './scripts';

/**
 * Every key matching `match` (of Redis type `type`, when given), by SCAN (1000 a step, never blocking Redis). On a
 * cluster SCAN sees one node's keys only, so it walks every master in turn. As with SCAN itself, a key
 * created or deleted meanwhile may or may not be seen, and one may be seen twice (also when its slot
 * moves between masters during the walk): callers must be idempotent per key.
 */
export async function* scanKeys(redis: ScriptedRedis, match: string, type?: string): AsyncGenerator<string> {
  for (const node of keyspaceNodes(redis)) {
    let cursor = '0';
    do {
      const [next, found] = type
        ? await node.scan(cursor, 'MATCH', match, 'COUNT', 1000, 'TYPE', type)
        : await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      yield* found;
    } while (cursor !== '0');
  }
}
