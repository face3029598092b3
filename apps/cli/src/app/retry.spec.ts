import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  retrying,
  type RetryDecision,
  type RetryPolicy,
  type Settled,
} from './retry';

const policy: RetryPolicy = { maxAttempts: 5, maxElapsedMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000 };

/** A clock that only moves when the code under test sleeps. */
function fakeClock(start = 1_000_000) {
  const clock = {
    time: start,
    sleeps: [] as number[],
    now: () => clock.time,
    sleep: (ms: number) => {
      clock.sleeps.push(ms);
      clock.time += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

const retryAll = (settled: Settled<number>): RetryDecision =>
  settled.ok && settled.value < 500 ? { retry: false } : { retry: true, reason: 'server' };

describe('backoffDelay (full jitter)', () => {
  it('is uniform in [0, min(max, base × 2^n)): the bounds at random 0 and just below 1', () => {
    const top = 1 - Number.EPSILON;
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => 0))).toEqual([
      0, 0, 0, 0, 0, 0,
    ]);
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => top))).toEqual([
      999, 1999, 3999, 7999, 7999, 7999,
    ]);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(2000);
  });

  it('never exceeds the cap, whatever the attempt', () => {
    for (let retry = 0; retry < 64; retry += 1) {
      expect(backoffDelay(retry, DEFAULT_RETRY_POLICY, () => 0.999999)).toBeLessThan(
        DEFAULT_RETRY_POLICY.maxDelayMs,
      );
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delay-seconds and HTTP dates, in milliseconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it does not understand', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});

describe('retrying', () => {
  it('retries until an answer is final, waiting the jittered backoff between attempts', async () => {
    const clock = fakeClock();
    const answers = [503, 503, 201];
    const notes: number[] = [];
    const outcome = await retrying(async (attempt) => answers[attempt - 1], {
      policy,
      clock,
      random: () => 0.5,
      decide: retryAll,
      onRetry: ({ delayMs }) => notes.push(delayMs),
    });
    expect(outcome).toEqual({ settled: { ok: true, value: 201 }, attempts: 3 });
    expect(clock.sleeps).toEqual([500, 1000]);
    expect(notes).toEqual([500, 1000]);
  });

  it('stops after maxAttempts, with the last answer and why', async () => {
    const clock = fakeClock();
    let calls = 0;
    const outcome = await retrying(
      async () => {
        calls += 1;
        return 503;
      },
      { policy, clock, random: () => 0.99, decide: retryAll },
    );
    expect(calls).toBe(5);
    expect(outcome).toEqual({ settled: { ok: true, value: 503 }, attempts: 5, exhausted: '5 attempts' });
    expect(clock.sleeps).toHaveLength(4);
  });

  it('starts no retry whose wait would pass the time limit', async () => {
    const clock = fakeClock();
    const outcome = await retrying(async () => 503, {
      policy: { ...policy, maxAttempts: 100, maxElapsedMs: 10_000 },
      clock,
      random: () => 0.99,
      decide: retryAll,
    });
    // Waits of 990, 1980, 3960 (6930 in all); the next, 7920, would end past 10 s.
    expect(clock.sleeps).toEqual([990, 1980, 3960]);
    expect(outcome.attempts).toBe(4);
    expect(outcome.exhausted).toBe('the retry time limit of 10 s');
  });

  it('waits what Retry-After asks instead of the backoff, and gives up at once when that is too long', async () => {
    const clock = fakeClock();
    const asked = [{ retryAfterMs: 2000 }, { retryAfterMs: 0 }];
    let calls = 0;
    const outcome = await retrying(async () => (calls += 1), {
      policy,
      clock,
      random: () => 0.99,
      decide: (settled) =>
        settled.ok && settled.value <= asked.length
          ? { retry: true, reason: '429', ...asked[settled.value - 1] }
          : { retry: false },
    });
    expect(clock.sleeps).toEqual([2000, 0]);
    expect(outcome.attempts).toBe(3);

    const impatient = fakeClock();
    const tooLong = await retrying(async () => 429, {
      policy,
      clock: impatient,
      random: () => 0,
      decide: () => ({ retry: true, reason: '429', retryAfterMs: 3_600_000 }),
    });
    expect(impatient.sleeps).toEqual([]);
    expect(tooLong.attempts).toBe(1);
    expect(tooLong.exhausted).toContain('Retry-After asked for 3600000 ms');
  });

  it('treats a thrown error like an answer: retried when decide says so, else given back', async () => {
    const clock = fakeClock();
    const failure = new TypeError('fetch failed');
    let calls = 0;
    const recovered = await retrying(
      async () => {
        calls += 1;
        if (calls === 1) throw failure;
        return 200;
      },
      { policy, clock, random: () => 0, decide: (settled) => ({ ...retryAll(settled) }) },
    );
    expect(recovered.settled).toEqual({ ok: true, value: 200 });
    const final = await retrying(
      async () => {
        throw failure;
      },
      { policy, clock: fakeClock(), random: () => 0, decide: () => ({ retry: false }) },
    );
    expect(final).toEqual({ settled: { ok: false, error: failure }, attempts: 1 });
  });
});
