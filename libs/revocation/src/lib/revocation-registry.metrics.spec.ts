import { Logger } from '@nestjs/common';
import type { Clock, KeyEvent } from '@gatehouse/contracts';
import { BIND_METRICS, GatehouseMetrics } from '@gatehouse/http';
import { KeyEventBus, type KeyEventHandler } from './key-event-bus';
import { RevocationRegistry, type RevokedKey } from './revocation-registry';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const ORG = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';
const NOW = new Date('2030-01-01T12:00:00.000Z');

class FakeBus extends KeyEventBus {
  handler: KeyEventHandler | undefined;
  async publish(): Promise<boolean> {
    return true;
  }
  async subscribe(handler: KeyEventHandler): Promise<void> {
    this.handler = handler;
  }
  async close(): Promise<void> {
    return undefined;
  }
}

const revoked = (apiKeyId: string): KeyEvent => ({
  type: 'key_revoked',
  apiKeyId,
  organizationId: ORG,
  revokedAt: NOW.toISOString(),
  reason: 'revoked',
});

const retired = (apiKeyId: string, currentVersion: number): KeyEvent => ({
  type: 'secret_retired',
  apiKeyId,
  organizationId: ORG,
  currentVersion,
  retiredAt: NOW.toISOString(),
});

describe('RevocationRegistry metrics', () => {
  let registry: RevocationRegistry;
  let metrics: GatehouseMetrics;
  let bus: FakeBus;
  let rows: RevokedKey[];
  let warn: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    rows = [];
    bus = new FakeBus();
    const clock: Clock = { now: () => NOW };
    registry = new RevocationRegistry(
      { revokedSince: async () => rows, retiredSince: async () => [], disabledKeys: async () => [] },
      bus,
      clock,
      { reconcileIntervalMs: 60_000, retentionMs: 3_600_000 },
    );
    metrics = new GatehouseMetrics('findings-service');
    registry[BIND_METRICS](metrics);
  });

  afterEach(async () => {
    await registry.stop();
    warn.mockRestore();
  });

  const applied = async () =>
    Object.fromEntries(
      (await metrics.revocations.applied.get()).values.map((value) => [value.labels.type, value.value]),
    );
  const setSize = async () => {
    const text = await metrics.expose();
    const size = (type: string) =>
      Number(new RegExp(`gatehouse_revocation_set_size\\{type="${type}"[^}]*\\} (\\d+)`).exec(text)?.[1]);
    return { key_revoked: size('key_revoked'), secret_retired: size('secret_retired') };
  };

  it('starts at 0', async () => {
    expect(await applied()).toEqual({ key_revoked: 0, secret_retired: 0 });
    expect(await setSize()).toEqual({ key_revoked: 0, secret_retired: 0 });
  });

  it('counts what enters the set, by type, once per entry', async () => {
    registry.apply(revoked(KEY_A));
    registry.apply(revoked(KEY_A));
    registry.apply(retired(KEY_B, 2));
    registry.apply(retired(KEY_B, 2));
    registry.apply(retired(KEY_B, 3));
    expect(await applied()).toEqual({ key_revoked: 1, secret_retired: 2 });
    expect(await setSize()).toEqual({ key_revoked: 1, secret_retired: 1 });
  });

  it('counts revocations from the bus, a reconcile and this node alike', async () => {
    rows = [{ apiKeyId: KEY_A, revokedAt: NOW }];
    await registry.start();
    bus.handler?.(revoked(KEY_B));
    await registry.revoke(revoked('33333333-3333-4333-8333-333333333333'));
    await registry.reconcile();
    expect(await applied()).toEqual({ key_revoked: 3, secret_retired: 0 });
    expect((await setSize()).key_revoked).toBe(3);
  });
});
