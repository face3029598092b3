import 'reflect-metadata';
import { ConfigValidationError, loadConfig } from '@gatehouse/config';
import { FindingsServiceConfig } from './findings-service.config';

describe('FindingsServiceConfig MANAGEMENT_PORT', () => {
  it('serves /metrics on 9002 by default, or the port given (0 picks one)', () => {
    expect(loadConfig(FindingsServiceConfig, {}).MANAGEMENT_PORT).toBe(9002);
    expect(loadConfig(FindingsServiceConfig, { MANAGEMENT_PORT: '0' }).MANAGEMENT_PORT).toBe(0);
    expect(() => loadConfig(FindingsServiceConfig, { MANAGEMENT_PORT: 'x' })).toThrow(ConfigValidationError);
  });
});
