import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { Clock } from '@gatehouse/contracts';
import { BIND_METRICS, GatehouseMetrics } from '@gatehouse/http';
import { UsageLog, type UsageAttempt } from './usage-log';
import { UsageRecorder } from './usage-recorder';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const ORG = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';
const T0 = new Date('2030-01-01T12:00:00.000Z');
const clock: Clock = { now: () => T0 };

function attempt(requestId: string): UsageAttempt {
  return {
    apiKeyId: KEY_A,
    organizationId: ORG,
    at: T0,
    outcome: 'success',
    ip: '10.0.0.1',
    userAgent: null,
    requestId,
  };
}

/** A query whose calls stay pending until the test settles them, one by one. */
function controlledQuery() {
  const calls: {
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
    parameters: unknown[];
  }[] = [];
  const query = jest.fn(
    (_sql: string, parameters: unknown[]) =>
      new Promise((resolve, reject) => calls.push({ resolve, reject, parameters })),
  );
  return { query, calls };
}

async function flushed(): Promise<void> {
  for (let turn = 0; turn < 10; turn += 1) await Promise.resolve();
}

async function flushCount(metrics: GatehouseMetrics, batch: string, result: string): Promise<number> {
  const metric = await metrics.usageFlushes.get();
  return (
    metric.values.find((value) => value.labels.batch === batch && value.labels.result === result)?.value ?? 0
  );
}

describe('batched usage writes on shutdown', () => {
  let warn: jest.SpyInstance;
  let error: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    error.mockRestore();
  });

  describe('UsageRecorder', () => {
    it('waits for a flush the timer started, and retries its batch if that flush fails', async () => {
      const { query, calls } = controlledQuery();
      const recorder = new UsageRecorder({ query } as unknown as DataSource, 2_000);
      recorder.record(KEY_A, T0, '10.0.0.1');
      // The interval fired just before shutdown: its batch is out of the map, its query still running.
      const timerFlush = recorder.flush();
      expect(recorder.pendingCount).toBe(0);

      let stopped = false;
      const stopping = recorder.stop().then(() => (stopped = true));
      await flushed();
      expect(stopped).toBe(false);

      calls[0].reject(new Error('connection terminated'));
      await timerFlush;
      await flushed();
      // The batch came back and stop() sent it again instead of leaving it in memory.
      expect(query).toHaveBeenCalledTimes(2);
      expect(calls[1].parameters).toEqual(calls[0].parameters);
      calls[1].resolve([]);
      await stopping;
      expect(recorder.pendingCount).toBe(0);
      expect(error).not.toHaveBeenCalled();
    });

    it('says how many updates were lost when the last flush fails', async () => {
      const query = jest.fn().mockRejectedValue(new Error('database is gone'));
      const recorder = new UsageRecorder({ query } as unknown as DataSource, 2_000);
      recorder.record(KEY_A, T0, '10.0.0.1');
      await recorder.stop();
      expect(error).toHaveBeenCalledWith('1 last-used updates could not be written before shutdown');
    });

    it('counts successful and failed flushes, and not the empty ones', async () => {
      const query = jest.fn().mockResolvedValueOnce([]).mockRejectedValueOnce(new Error('timeout'));
      const recorder = new UsageRecorder({ query } as unknown as DataSource, 2_000);
      const metrics = new GatehouseMetrics('auth-service');
      recorder[BIND_METRICS](metrics);

      await recorder.flush();
      recorder.record(KEY_A, T0, '10.0.0.1');
      await recorder.flush();
      recorder.record(KEY_A, T0, '10.0.0.1');
      await recorder.flush();

      expect(await flushCount(metrics, 'last_used', 'success')).toBe(1);
      expect(await flushCount(metrics, 'last_used', 'failure')).toBe(1);
    });
  });

  describe('UsageLog', () => {
    const options = { flushIntervalMs: 2_000, retentionDays: 30, maxPending: 100 };

    it('waits for a flush the timer started, and retries its batch if that flush fails', async () => {
      const { query, calls } = controlledQuery();
      const log = new UsageLog({ query } as unknown as DataSource, clock, options);
      log.append(attempt('req-1'));
      log.append(attempt('req-2'));
      const timerFlush = log.flush();

      let stopped = false;
      const stopping = log.stop().then(() => (stopped = true));
      await flushed();
      expect(stopped).toBe(false);

      calls[0].reject(new Error('connection terminated'));
      await timerFlush;
      await flushed();
      expect(query).toHaveBeenCalledTimes(2);
      expect(calls[1].parameters).toEqual(calls[0].parameters);
      calls[1].resolve([]);
      await stopping;
      expect(log.pendingCount).toBe(0);
      expect(error).not.toHaveBeenCalled();
    });

    it('says how many attempts were lost when the last flush fails', async () => {
      const query = jest.fn().mockRejectedValue(new Error('database is gone'));
      const log = new UsageLog({ query } as unknown as DataSource, clock, options);
      log.append(attempt('req-1'));
      log.append(attempt('req-2'));
      await log.stop();
      expect(error).toHaveBeenCalledWith('usage log: 2 attempts could not be written before shutdown');
    });

    it('counts successful, failed and partial flushes', async () => {
      const refused = Object.assign(new Error('foreign key violation'), { code: '23503' });
      const query = jest
        .fn()
        .mockResolvedValueOnce([]) // success
        .mockRejectedValueOnce(new Error('timeout')) // failure, kept
        .mockRejectedValueOnce(refused) // the retried batch is refused as a whole...
        .mockResolvedValueOnce([]) // ...then row by row: the first is stored,
        .mockRejectedValueOnce(refused); // the second refused: partial
      const log = new UsageLog({ query } as unknown as DataSource, clock, options);
      const metrics = new GatehouseMetrics('auth-service');
      log[BIND_METRICS](metrics);

      log.append(attempt('req-1'));
      await log.flush();
      log.append(attempt('req-2'));
      log.append(attempt('req-3'));
      await log.flush();
      await log.flush();
      await log.flush();

      expect(await flushCount(metrics, 'usage_log', 'success')).toBe(1);
      expect(await flushCount(metrics, 'usage_log', 'failure')).toBe(1);
      expect(await flushCount(metrics, 'usage_log', 'partial')).toBe(1);
      expect(query).toHaveBeenCalledTimes(5);
    });
  });
});
