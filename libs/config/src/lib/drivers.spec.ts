import 'reflect-metadata';
import { loadConfig } from './load-config';
import { ClusterServiceConfig, DataServiceConfig, DEFAULT_KEY_EVENTS_CHANNEL } from './service-config';

describe('drivers chosen by configuration', () => {
  it('defaults to the servers: PostgreSQL and the Redis bus', () => {
    const config = loadConfig(DataServiceConfig, {});
    expect(config.DATABASE_DRIVER).toBe('postgres');
    expect(config.KEY_EVENTS_BUS).toBe('redis');
  });

  it('takes the embedded database and the in-process bus only when told', () => {
    const config = loadConfig(DataServiceConfig, {
      DATABASE_DRIVER: 'embedded',
      KEY_EVENTS_BUS: 'in-process',
    });
    expect(config.DATABASE_DRIVER).toBe('embedded');
    expect(config.KEY_EVENTS_BUS).toBe('in-process');
  });

  it.each([
    [{ DATABASE_DRIVER: 'sqlite' }, 'DATABASE_DRIVER must be one of postgres, embedded'],
    [{ KEY_EVENTS_BUS: 'kafka' }, 'KEY_EVENTS_BUS must be one of redis, in-process'],
    [{ KEY_EVENTS_CHANNEL: 'has space' }, 'KEY_EVENTS_CHANNEL must be 1–100 of A-Za-z0-9:._-'],
    [{ REVOCATION_CHANNEL: 'x'.repeat(101) }, 'REVOCATION_CHANNEL must be 1–100 of A-Za-z0-9:._-'],
  ])('refuses %j, naming the variable', (environment, message) => {
    expect(() => loadConfig(DataServiceConfig, environment)).toThrow(message);
  });
});

describe('the key-event channel', () => {
  const channel = (environment: Record<string, string>) =>
    loadConfig(ClusterServiceConfig, environment).keyEventsChannel;

  it('is KEY_EVENTS_CHANNEL when set', () => {
    expect(channel({ KEY_EVENTS_CHANNEL: 'team-a:events', REVOCATION_CHANNEL: 'old' })).toBe('team-a:events');
  });

  it('falls back to the deprecated REVOCATION_CHANNEL, so that existing manifests keep their channel', () => {
    expect(channel({ REVOCATION_CHANNEL: 'gatehouse:revocations' })).toBe('gatehouse:revocations');
  });

  it('is gatehouse:key-events when neither is set', () => {
    expect(channel({})).toBe(DEFAULT_KEY_EVENTS_CHANNEL);
    expect(DEFAULT_KEY_EVENTS_CHANNEL).toBe('gatehouse:key-events');
  });
});
