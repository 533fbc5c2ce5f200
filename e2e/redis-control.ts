/**
 * Taking the test Redis away and bringing it back, from inside a spec.
 *
 * When the test launcher offers a control endpoint (E2E_REDIS_CONTROL_URL: POST /stop stops the
 * redis-server process, POST /start starts it again on the same port and data), Redis is really
 * stopped. Otherwise the redis-server answering at REDIS_URL is frozen with SIGSTOP and thawed with
 * SIGCONT: to the app that is the same outage (commands time out, sends fail), and nothing that was
 * refused is stored behind its back. Either way `restore()` must run, even when the test fails.
 */
import { Redis } from 'ioredis';

export interface RedisOutage {
  /** How the outage is made, for the test's annotations. */
  mode: 'stopped' | 'frozen';
  restore(): Promise<void>;
}

const controlUrl = process.env.E2E_REDIS_CONTROL_URL;

async function control(action: 'stop' | 'start'): Promise<void> {
  const res = await fetch(`${controlUrl}/${action}`, { method: 'POST' });
  if (!res.ok) throw new Error(`redis control ${action}: HTTP ${res.status} ${await res.text()}`);
}

/** ioredis prints an unlistened 'error' as "Unhandled error event"; the command that failed rejects anyway. */
function connectionFailed(err: Error) {
  console.warn(`redis-control: Redis connection error: ${err.message}`);
}

async function redisPid(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', connectionFailed);
  try {
    await redis.connect();
    const info = await redis.info('server');
    const match = /^process_id:(\d+)/m.exec(info);
    if (!match) throw new Error('INFO server has no process_id');
    return Number(match[1]);
  } finally {
    redis.disconnect();
  }
}

export async function takeRedisAway(): Promise<RedisOutage> {
  if (controlUrl) {
    await control('stop');
    return { mode: 'stopped', restore: () => control('start') };
  }
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set');
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`cannot freeze a Redis on another host (${host}); set E2E_REDIS_CONTROL_URL`);
  }
  const pid = await redisPid(url);
  process.kill(pid, 'SIGSTOP');
  let restored = false;
  return {
    mode: 'frozen',
    restore: async () => {
      if (restored) return;
      restored = true;
      process.kill(pid, 'SIGCONT');
      // Answering again?
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      redis.on('error', connectionFailed);
      try {
        await redis.connect();
        await redis.ping();
      } finally {
        redis.disconnect();
      }
    },
  };
}
