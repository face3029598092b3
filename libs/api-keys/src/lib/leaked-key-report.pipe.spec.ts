import 'reflect-metadata';
import { GatehouseError } from '@gatehouse/contracts';
import type { FieldProblem } from '@gatehouse/http';
import { LEAKED_KEY_REPORT_MAX_ENTRIES, LeakedKeyReportDto } from './dto/report-leaked-keys.dto';
import { LeakedKeyReportPipe } from './leaked-key-report.pipe';

const pipe = new LeakedKeyReportPipe();

function refusal(body: unknown): GatehouseError {
  try {
    pipe.transform(body);
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    return error as GatehouseError;
  }
  throw new Error('the body was accepted');
}

const entry = {
  token: 'gth_live_x',
  type: 'gatehouse_api_key',
  url: 'https://github.com/o/r/blob/1/.env',
  source: 'content',
};

describe('LeakedKeyReportPipe', () => {
  it("accepts GitHub's format, with or without url and source", () => {
    const reports = pipe.transform([entry, { token: 't', type: 'x' }, { token: 'u' }]);
    expect(reports).toEqual([entry, { token: 't', type: 'x' }, { token: 'u' }]);
    expect(reports[0]).toBeInstanceOf(LeakedKeyReportDto);
  });

  it('accepts an empty report', () => {
    expect(pipe.transform([])).toEqual([]);
  });

  it('drops fields a scanner may add one day instead of refusing the report', () => {
    expect(pipe.transform([{ ...entry, repository_visibility: 'public' }])).toEqual([entry]);
  });

  it.each([{ token: 'x' }, 'x', null, 42])('refuses %p instead of an array with 400', (body) => {
    expect(refusal(body)).toMatchObject({ code: 'validation_failed', status: 400 });
  });

  it(`refuses more than ${LEAKED_KEY_REPORT_MAX_ENTRIES} entries with 413`, () => {
    expect(pipe.transform(Array.from({ length: LEAKED_KEY_REPORT_MAX_ENTRIES }, () => entry))).toHaveLength(
      LEAKED_KEY_REPORT_MAX_ENTRIES,
    );
    const error = refusal(Array.from({ length: LEAKED_KEY_REPORT_MAX_ENTRIES + 1 }, () => entry));
    expect(error).toMatchObject({ code: 'payload_too_large', status: 413 });
  });

  it('names each invalid field by its index', () => {
    const error = refusal([
      entry,
      { type: 'x' },
      { token: '' },
      { token: 7 },
      { ...entry, url: 'u'.repeat(2049) },
      { ...entry, source: 's'.repeat(101), type: 't'.repeat(201) },
      'not an object',
      null,
    ]);
    expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
    expect((error.details as FieldProblem[]).map((problem) => problem.field)).toEqual([
      '1.token',
      '2.token',
      '3.token',
      '4.url',
      '5.type',
      '5.source',
      '6',
      '7',
    ]);
  });

  it('lists at most 20 problems, however bad the report, and never echoes a token', () => {
    const error = refusal(Array.from({ length: 500 }, () => ({ token: 'gth_live_secret', url: 1 })));
    expect(error.details).toHaveLength(20);
    expect(error.message).toMatch(/; and 480 more$/);
    expect(error.message).not.toContain('gth_live_secret');
  });
});
