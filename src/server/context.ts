import 'server-only';
import { AuthService } from '~/server/auth/service';
import { ChatStore } from '~/server/chat/store';
import { getRedis } from '~/server/redis/client';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { getEventHub, type EventHub } from '~/server/realtime/hub';

/**
 * The server's services, built once per process around the shared Redis connection. Tests build their
 * own around a Redis they started (see createServices).
 */
export interface Services {
  redis: ScriptedRedis;
  store: ChatStore;
  auth: AuthService;
  hub: EventHub;
}

export function createServices(redis: ScriptedRedis, hub: EventHub): Services {
  return { redis, store: new ChatStore(redis), auth: new AuthService(redis), hub };
}

const globalForServices = globalThis as unknown as { parleyServices?: Services };

export function getServices(): Services {
  globalForServices.parleyServices ??= createServices(getRedis(), getEventHub());
  return globalForServices.parleyServices;
}
