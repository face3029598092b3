import 'reflect-metadata';
import { loadConfig } from './load-config';
import {
  DataServiceConfig,
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  isStandaloneEnvironment,
} from './service-config';

describe('isStandaloneEnvironment', () => {
  it('is standalone mode when neither DATABASE_URL nor REDIS_URL is set (empty counts as unset)', () => {
    expect(isStandaloneEnvironment({})).toBe(true);
    expect(isStandaloneEnvironment({ DATABASE_URL: '', REDIS_URL: '' })).toBe(true);
  });

  it('is server mode as soon as either is set', () => {
    expect(isStandaloneEnvironment({ DATABASE_URL: 'postgres://db/gatehouse' })).toBe(false);
    expect(isStandaloneEnvironment({ REDIS_URL: 'redis://cache:6379' })).toBe(false);
  });

  it('leaves the server defaults of a service run on its own unchanged', () => {
    const config = loadConfig(DataServiceConfig, {});
    expect(config.DATABASE_URL).toBe(DEFAULT_DATABASE_URL);
    expect(config.REDIS_URL).toBe(DEFAULT_REDIS_URL);
    expect(DEFAULT_DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/gatehouse');
    expect(DEFAULT_REDIS_URL).toBe('redis://127.0.0.1:6379');
  });
});
