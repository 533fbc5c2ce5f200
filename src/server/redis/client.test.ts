import { describe, expect, it } from 'vitest';
import { clusterNodesOf, createRedis } from './client';
import { isCluster } from './cluster';

describe('the Redis target', () => {
  it('reads the cluster URL form into startup nodes, and a plain URL as no cluster', () => {
    expect(clusterNodesOf('redis+cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect(clusterNodesOf('redis://127.0.0.1:6390')).toBeNull();
  });

  it('refuses a node without a usable port', () => {
    expect(() => clusterNodesOf('redis+cluster://10.0.0.1')).toThrow(/host:port/);
    expect(() => clusterNodesOf('redis+cluster://10.0.0.1:99999')).toThrow(/host:port/);
  });

  it('makes a Cluster client for the cluster form and a standalone one otherwise', () => {
    const cluster = createRedis('redis+cluster://127.0.0.1:1', { lazyConnect: true });
    const single = createRedis('redis://127.0.0.1:1', { lazyConnect: true });
    try {
      expect(isCluster(cluster)).toBe(true);
      expect(isCluster(single)).toBe(false);
    } finally {
      cluster.disconnect();
      single.disconnect();
    }
  });
});
