import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { Clock } from '@gatehouse/contracts';
import { BIND_METRICS, GatehouseMetrics } from '@gatehouse/http';
import { MAX_BATCH_ATTEMPTS, UsageLog, type UsageAttempt, type UsageLogOptions } from './usage-log';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const ORG = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';
const T0 = new Date('2030-01-01T12:00:00.000Z');
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const OPTIONS: UsageLogOptions = { flushIntervalMs: 2_000, retentionDays: 30, maxPending: 5 };

function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

function attempt(overrides: Partial<UsageAttempt> = {}): UsageAttempt {
  return {
    apiKeyId: KEY_A,
    organizationId: ORG,
    at: at(1),
    outcome: 'success',
    ip: '203.0.113.7',
    userAgent: 'scanner/1.0',
    requestId: 'req-1',
    ...overrides,
  };
}

type Columns = [string[], string[], string[], string[], string[], (string | null)[], (string | null)[]];

describe('UsageLog', () => {
  let query: jest.Mock<Promise<unknown>, [string, unknown[]]>;
  let now: Date;
  let log: UsageLog;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    query = jest.fn<Promise<unknown>, [string, unknown[]]>().mockResolvedValue([]);
    now = T0;
    const clock: Clock = { now: () => new Date(now.getTime()) };
    log = new UsageLog({ query } as unknown as DataSource, clock, OPTIONS);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await log.stop();
    warn.mockRestore();
    jest.useRealTimers();
  });

  function inserts(): Array<[string, unknown[]]> {
    return query.mock.calls.filter(([sql]) => sql.includes('INSERT'));
  }

  function columns(call = 0): Columns {
    return inserts()[call][1] as Columns;
  }

  describe('flush', () => {
    it('sends nothing when nothing was appended', async () => {
      await log.flush();
      expect(query).not.toHaveBeenCalled();
    });

    it('inserts the whole batch in one query, one array per column, in append order', async () => {
      log.append(attempt());
      log.append(
        attempt({
          apiKeyId: KEY_B,
          at: at(2),
          outcome: 'client_id_mismatch',
          ip: '2001:db8::1',
          userAgent: null,
          requestId: null,
        }),
      );
      expect(log.pendingCount).toBe(2);

      await log.flush();

      expect(query).toHaveBeenCalledTimes(1);
      const [sql, parameters] = query.mock.calls[0];
      expect(sql).toMatch(
        /INSERT INTO api_key_usage \(api_key_id, organization_id, occurred_at, outcome, ip, user_agent, request_id\)/,
      );
      expect(sql).toMatch(
        /unnest\(\$1::uuid\[\], \$2::uuid\[\], \$3::timestamptz\[\], \$4::text\[\], \$5::text\[\], \$6::text\[\], \$7::text\[\]\)/,
      );
      expect(parameters).toEqual([
        [KEY_A, KEY_B],
        [ORG, ORG],
        [at(1).toISOString(), at(2).toISOString()],
        ['success', 'client_id_mismatch'],
        ['203.0.113.7', '2001:db8::1'],
        ['scanner/1.0', null],
        ['req-1', null],
      ]);
      expect(log.pendingCount).toBe(0);
    });

    it('keeps every attempt, even several of the same key (unlike last use)', async () => {
      log.append(attempt({ at: at(1) }));
      log.append(attempt({ at: at(1) }));
      log.append(attempt({ at: at(2), outcome: 'key_expired' }));

      await log.flush();

      expect(columns()[0]).toEqual([KEY_A, KEY_A, KEY_A]);
      expect(columns()[3]).toEqual(['success', 'success', 'key_expired']);
    });

    it('truncates ip, user agent and request id to their column sizes', async () => {
      log.append(attempt({ ip: 'i'.repeat(100), userAgent: 'u'.repeat(600), requestId: 'r'.repeat(200) }));

      await log.flush();

      expect(columns()[4]).toEqual(['i'.repeat(64)]);
      expect(columns()[5]).toEqual(['u'.repeat(512)]);
      expect(columns()[6]).toEqual(['r'.repeat(128)]);
    });

    it('does not send the same attempts twice', async () => {
      log.append(attempt());
      await log.flush();
      await log.flush();
      expect(query).toHaveBeenCalledTimes(1);
    });
  });

  describe('memory bound', () => {
    it('holds at most maxPending attempts, dropping the newer ones and saying how many', async () => {
      for (let i = 0; i < OPTIONS.maxPending + 3; i += 1) log.append(attempt({ at: at(i) }));

      expect(log.pendingCount).toBe(OPTIONS.maxPending);
      await log.flush();

      expect(columns()[2]).toEqual([0, 1, 2, 3, 4].map((i) => at(i).toISOString()));
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('3 attempts were not recorded'));
    });

    it('reports drops once, and accepts attempts again after a flush', async () => {
      for (let i = 0; i < OPTIONS.maxPending + 1; i += 1) log.append(attempt());
      await log.flush();
      warn.mockClear();

      log.append(attempt());
      expect(log.pendingCount).toBe(1);
      await log.flush();

      expect(warn).not.toHaveBeenCalled();
      expect(inserts()).toHaveLength(2);
    });
  });

  describe('failed flush', () => {
    it('keeps the batch and sends the same rows at the next flush, without throwing', async () => {
      query.mockRejectedValueOnce(new Error('connection terminated'));
      log.append(attempt({ at: at(1) }));
      log.append(attempt({ apiKeyId: KEY_B, at: at(2) }));

      await expect(log.flush()).resolves.toBeUndefined();
      expect(log.pendingCount).toBe(2);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('connection terminated'));

      await log.flush();
      expect(query).toHaveBeenCalledTimes(2);
      expect(columns(1)).toEqual(columns(0));
      expect(log.pendingCount).toBe(0);
    });

    it('puts the failed batch before attempts appended while it was being sent', async () => {
      let fail: (error: Error) => void = () => undefined;
      query.mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = reject)));
      log.append(attempt({ at: at(1) }));

      const flushing = log.flush();
      log.append(attempt({ at: at(9) }));
      fail(new Error('timeout'));
      await flushing;

      expect(log.pendingCount).toBe(2);
      await log.flush();
      expect(columns(1)[2]).toEqual([at(1).toISOString(), at(9).toISOString()]);
    });

    it('stays within maxPending when the returned batch and new attempts exceed it', async () => {
      let fail: (error: Error) => void = () => undefined;
      query.mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = reject)));
      for (let i = 0; i < 4; i += 1) log.append(attempt({ at: at(i) }));

      const flushing = log.flush();
      for (let i = 10; i < 14; i += 1) log.append(attempt({ at: at(i) }));
      fail(new Error('timeout'));
      await flushing;

      expect(log.pendingCount).toBe(OPTIONS.maxPending);
      await log.flush();
      // The older, failed batch is kept first; the newest attempts are the ones that no longer fit.
      expect(columns(1)[2]).toEqual([0, 1, 2, 3, 10].map((i) => at(i).toISOString()));
    });
    // are not added to `dropped`, so the "usage log full: N attempts were not recorded" warning under-reports
    // them. Fix: `this.dropped += merged.length - kept.length` before slicing.
    it('counts attempts lost when a failed batch is put back over the bound', async () => {
      let fail: (error: Error) => void = () => undefined;
      query.mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = reject)));
      for (let i = 0; i < 4; i += 1) log.append(attempt({ at: at(i) }));
      const flushing = log.flush();
      for (let i = 10; i < 14; i += 1) log.append(attempt({ at: at(i) }));
      fail(new Error('timeout'));
      await flushing;
      warn.mockClear();

      await log.flush();

      expect(warn).toHaveBeenCalledWith(expect.stringContaining('3 attempts were not recorded'));
    });
  });

  describe('poisoned batch', () => {
    const sqlError = (code: string) => Object.assign(new Error(`refused value "secret-ish"`), { code });

    function boundMetrics(): GatehouseMetrics {
      const metrics = new GatehouseMetrics('test');
      log[BIND_METRICS](metrics);
      return metrics;
    }

    async function dropped(metrics: GatehouseMetrics, reason: string): Promise<number> {
      const { values } = await metrics.registry.getSingleMetric('gatehouse_usage_log_dropped_total')!.get();
      return values.find((value) => value.labels['reason'] === reason)?.value ?? -1;
    }

    it('stores the rows of a batch the database refuses as data one by one, and drops only the refused row', async () => {
      const metrics = boundMetrics();
      query.mockImplementation((sql: string, parameters: unknown[]) => {
        if (!sql.includes('INSERT')) return Promise.resolve([]);
        const agents = parameters[5] as (string | null)[];
        // PostgreSQL refuses NUL in text: SQLSTATE 22021, whatever else the batch holds.
        return agents.some((agent) => agent?.includes('\u0000'))
          ? Promise.reject(sqlError('22021'))
          : Promise.resolve([]);
      });
      log.append(attempt({ requestId: 'a' }));
      log.append(attempt({ requestId: 'poisoned', userAgent: 'x\u0000y' }));
      log.append(attempt({ requestId: 'c' }));

      await log.flush();

      // The whole batch once, then each row on its own.
      expect(inserts()).toHaveLength(4);
      const stored = inserts()
        .slice(1)
        .filter((call) => !(call[1][5] as (string | null)[]).some((agent) => agent?.includes('\u0000')))
        .map((call) => (call[1][6] as string[])[0]);
      expect(stored).toEqual(['a', 'c']);
      expect(log.pendingCount).toBe(0);
      expect(await dropped(metrics, 'refused')).toBe(1);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('refused 1 of 3 attempts (SQLSTATE 22021)'));
      // The database's message may quote the refused value: it is never logged.
      expect(warn).not.toHaveBeenCalledWith(expect.stringContaining('secret-ish'));

      // The log is not blocked: the next batch goes in whole.
      query.mockResolvedValue([]);
      log.append(attempt({ requestId: 'd' }));
      await log.flush();
      expect(inserts()).toHaveLength(5);
      expect(log.pendingCount).toBe(0);
    });

    it(`retries an unexplained failure ${MAX_BATCH_ATTEMPTS} times, then splits the batch`, async () => {
      const metrics = boundMetrics();
      query.mockImplementation((sql: string, parameters: unknown[]) => {
        if (!sql.includes('INSERT')) return Promise.resolve([]);
        const ids = parameters[6] as string[];
        return ids.includes('bad') ? Promise.reject(sqlError('XX000')) : Promise.resolve([]);
      });
      log.append(attempt({ requestId: 'good' }));
      log.append(attempt({ requestId: 'bad' }));

      for (let flush = 1; flush < MAX_BATCH_ATTEMPTS; flush += 1) {
        await log.flush();
        expect(log.pendingCount).toBe(2);
      }
      await log.flush();

      expect(log.pendingCount).toBe(0);
      expect(inserts().map((call) => call[1][6])).toEqual([
        ...Array.from({ length: MAX_BATCH_ATTEMPTS }, () => ['good', 'bad']),
        ['good'],
        ['bad'],
      ]);
      expect(await dropped(metrics, 'refused')).toBe(1);
    });

    it('never splits nor drops a batch while the database is unreachable', async () => {
      const metrics = boundMetrics();
      query.mockRejectedValue(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      );
      log.append(attempt({ requestId: 'a' }));
      log.append(attempt({ requestId: 'b' }));

      for (let flush = 0; flush < MAX_BATCH_ATTEMPTS * 3; flush += 1) await log.flush();

      expect(inserts()).toHaveLength(MAX_BATCH_ATTEMPTS * 3);
      expect(inserts().every((call) => (call[1][6] as string[]).length === 2)).toBe(true);
      expect(log.pendingCount).toBe(2);
      expect(await dropped(metrics, 'refused')).toBe(0);

      query.mockResolvedValue([]);
      await log.flush();
      expect(log.pendingCount).toBe(0);
    });

    it('counts attempts dropped because the log is full', async () => {
      const metrics = boundMetrics();
      for (let i = 0; i < OPTIONS.maxPending + 2; i += 1) log.append(attempt());
      expect(await dropped(metrics, 'overflow')).toBe(2);
    });
  });

  describe('prune', () => {
    it('deletes rows older than the retention, counted from the injected clock', async () => {
      await log.prune();

      expect(query).toHaveBeenCalledTimes(1);
      const [sql, parameters] = query.mock.calls[0];
      expect(sql).toMatch(/DELETE FROM api_key_usage WHERE occurred_at < \$1/);
      expect(parameters).toEqual([new Date(T0.getTime() - 30 * DAY_MS).toISOString()]);
    });

    it('moves the cutoff with the clock', async () => {
      now = new Date(T0.getTime() + 5 * DAY_MS + 1);
      await log.prune();
      expect(query.mock.calls[0][1]).toEqual([new Date(T0.getTime() - 25 * DAY_MS + 1).toISOString()]);
    });

    it('logs a failure instead of throwing', async () => {
      query.mockRejectedValueOnce(new Error('statement timeout'));
      await expect(log.prune()).resolves.toBeUndefined();
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('statement timeout'));
    });
  });

  describe('timers', () => {
    it('flushes every interval and prunes every hour once started', async () => {
      jest.useFakeTimers();
      log.start();
      log.append(attempt());

      jest.advanceTimersByTime(OPTIONS.flushIntervalMs - 1);
      expect(query).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(inserts()).toHaveLength(1);
      await Promise.resolve();

      jest.advanceTimersByTime(HOUR_MS - OPTIONS.flushIntervalMs);
      const deletes = query.mock.calls.filter(([sql]) => sql.startsWith('DELETE'));
      expect(deletes).toHaveLength(1);
      expect(inserts()).toHaveLength(1); // nothing new to flush in the meantime
    });

    it('flushes what is pending on stop and stops both timers', async () => {
      jest.useFakeTimers();
      log.start();
      log.append(attempt());

      await log.stop();
      expect(inserts()).toHaveLength(1);

      log.append(attempt());
      jest.advanceTimersByTime(2 * HOUR_MS);
      expect(query).toHaveBeenCalledTimes(1);
    });
  });
});
