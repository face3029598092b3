import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { UsageRecorder } from './usage-recorder';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const T0 = new Date('2030-01-01T12:00:00.000Z');

function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

type QueryParameters = [string[], string[], string[]];

describe('UsageRecorder', () => {
  let query: jest.Mock<Promise<unknown>, [string, QueryParameters]>;
  let recorder: UsageRecorder;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    query = jest.fn<Promise<unknown>, [string, QueryParameters]>().mockResolvedValue([]);
    recorder = new UsageRecorder({ query } as unknown as DataSource, 2_000);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  function sentParameters(call = 0): QueryParameters {
    return query.mock.calls[call][1];
  }

  it('keeps one pending use per key, the one recorded last', () => {
    recorder.record(KEY_A, at(1), '10.0.0.1');
    recorder.record(KEY_A, at(2), '10.0.0.2');
    recorder.record(KEY_B, at(3), '10.0.0.3');
    expect(recorder.pendingCount).toBe(2);
  });

  // Documents a bug (see report): authenticate records `now` only after awaiting the RSA signature, so two
  // concurrent requests can record out of order and the older use overwrites the newer one in the batch.
  it('keeps the newest use per key even when an older use is recorded after it', async () => {
    recorder.record(KEY_A, at(2), '10.0.0.2');
    recorder.record(KEY_A, at(1), '10.0.0.1');
    await recorder.flush();
    expect(sentParameters()).toEqual([[KEY_A], [at(2).toISOString()], ['10.0.0.2']]);
  });

  it('sends nothing when nothing was recorded', async () => {
    await recorder.flush();
    expect(query).not.toHaveBeenCalled();
  });

  it('flushes every key in one query with arrays of ids, times and ips', async () => {
    recorder.record(KEY_A, at(1), '10.0.0.1');
    recorder.record(KEY_B, at(2), '2001:db8::1');
    recorder.record(KEY_A, at(5), '10.0.0.5');

    await recorder.flush();

    expect(query).toHaveBeenCalledTimes(1);
    const [sql, parameters] = query.mock.calls[0];
    expect(sql).toMatch(/UPDATE api_keys/);
    expect(sql).toMatch(/unnest\(\$1::uuid\[\], \$2::timestamptz\[\], \$3::text\[\]\)/);
    // The database keeps the newest time when an older batch arrives late.
    expect(sql).toMatch(/k\.last_used_at IS NULL OR k\.last_used_at < u\.at/);
    expect(parameters).toEqual([
      [KEY_A, KEY_B],
      [at(5).toISOString(), at(2).toISOString()],
      ['10.0.0.5', '2001:db8::1'],
    ]);
    expect(recorder.pendingCount).toBe(0);
  });

  it('truncates the ip to the 64 characters the column holds', async () => {
    recorder.record(KEY_A, at(1), 'x'.repeat(100));
    await recorder.flush();
    expect(sentParameters()[2]).toEqual(['x'.repeat(64)]);
  });

  it('does not send the same uses twice', async () => {
    recorder.record(KEY_A, at(1), '10.0.0.1');
    await recorder.flush();
    await recorder.flush();
    expect(query).toHaveBeenCalledTimes(1);
  });

  it('puts a failed batch back so that the next flush retries it', async () => {
    query.mockRejectedValueOnce(new Error('connection terminated'));
    recorder.record(KEY_A, at(1), '10.0.0.1');
    recorder.record(KEY_B, at(2), '10.0.0.2');

    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(recorder.pendingCount).toBe(2);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('connection terminated'));

    await recorder.flush();
    expect(query).toHaveBeenCalledTimes(2);
    expect(sentParameters(1)).toEqual(sentParameters(0));
    expect(recorder.pendingCount).toBe(0);
  });

  it('lets a use recorded during a failing flush win over the returned batch', async () => {
    let fail: (error: Error) => void = () => undefined;
    query.mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = reject)));
    recorder.record(KEY_A, at(1), '10.0.0.1');
    recorder.record(KEY_B, at(1), '10.0.0.1');

    const flushing = recorder.flush();
    recorder.record(KEY_A, at(9), '10.0.0.9');
    fail(new Error('timeout'));
    await flushing;

    await recorder.flush();
    expect(sentParameters(1)).toEqual([
      [KEY_A, KEY_B],
      [at(9).toISOString(), at(1).toISOString()],
      ['10.0.0.9', '10.0.0.1'],
    ]);
  });

  it('flushes on every interval once started', async () => {
    jest.useFakeTimers();
    recorder.start();
    recorder.record(KEY_A, at(1), '10.0.0.1');

    jest.advanceTimersByTime(1_999);
    expect(query).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(query).toHaveBeenCalledTimes(1);

    await recorder.stop();
  });

  it('flushes what is pending on stop and stops the interval', async () => {
    jest.useFakeTimers();
    recorder.start();
    recorder.record(KEY_A, at(1), '10.0.0.1');

    await recorder.stop();
    expect(query).toHaveBeenCalledTimes(1);
    expect(sentParameters()[0]).toEqual([KEY_A]);

    recorder.record(KEY_B, at(2), '10.0.0.2');
    jest.advanceTimersByTime(10_000);
    expect(query).toHaveBeenCalledTimes(1);
  });

  it('flushes on stop even if never started', async () => {
    recorder.record(KEY_A, at(1), '10.0.0.1');
    await recorder.stop();
    expect(query).toHaveBeenCalledTimes(1);
  });
});
