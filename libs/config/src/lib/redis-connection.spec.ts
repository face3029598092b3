import 'reflect-metadata';
import { loadConfig, redactConfig } from './load-config';
import { ClusterServiceConfig } from './service-config';

const load = (environment: Record<string, string>) => loadConfig(ClusterServiceConfig, environment);

describe('REDIS_MODE', () => {
  it('is standalone by default: REDIS_URL', () => {
    expect(load({ REDIS_URL: 'rediss://:pw@cache:6380' }).redisConnection).toEqual({
      mode: 'standalone',
      url: 'rediss://:pw@cache:6380',
    });
  });

  it('sentinel: the Sentinels, the monitored name, credentials and TLS', () => {
    const config = load({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: 'sentinel-0:26379,10.0.0.7:26379,[fd00::7]:26379',
      REDIS_SENTINEL_NAME: 'gatehouse',
      REDIS_USERNAME: 'gatehouse',
      REDIS_PASSWORD: 'node-secret',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_TLS: 'true',
    });
    expect(config.redisConnection).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: '10.0.0.7', port: 26379 },
        { host: 'fd00::7', port: 26379 },
      ],
      name: 'gatehouse',
      username: 'gatehouse',
      password: 'node-secret',
      sentinelPassword: 'sentinel-secret',
      tls: true,
    });
    const redacted = JSON.stringify(redactConfig(config));
    expect(redacted).not.toContain('node-secret');
    expect(redacted).not.toContain('sentinel-secret');
  });

  it('cluster: some nodes to discover the rest from', () => {
    expect(
      load({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379' }).redisConnection,
    ).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'redis-0', port: 6379 },
        { host: 'redis-1', port: 6379 },
      ],
      tls: false,
    });
  });

  it.each([
    [{ REDIS_MODE: 'replicated' }, 'REDIS_MODE must be one of standalone, sentinel, cluster'],
    [{ REDIS_MODE: 'sentinel' }, 'REDIS_SENTINELS must be host:port'],
    [{ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'sentinel-0' }, 'REDIS_SENTINELS must be host:port'],
    [
      { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'redis-0:6379,' },
      'REDIS_CLUSTER_NODES must be host:port',
    ],
    [{ REDIS_TLS: 'yes' }, 'REDIS_TLS must be true or false'],
  ])('refuses %j, naming the variable', (environment, message) => {
    expect(() => load(environment)).toThrow(message);
  });
});
