import { describe, expect, it } from 'vitest';
import { auditNdjsonToCsv } from './audit-export';

const event = {
  id: 'e-1',
  occurred_at: '2026-12-04T10:00:00.000Z',
  actor_type: 'user',
  actor: 'user:u-1',
  action: 'api_key.created',
  target_type: 'api_key',
  target_id: 'k-1',
  ip: '203.0.113.7',
  request_id: 'req-1',
  details: { name: 'ci, "main"', permissions: ['read:keys'] },
};

describe('auditNdjsonToCsv', () => {
  it('writes a header and one row per event, quoting what needs it', () => {
    const csv = auditNdjsonToCsv(
      `${JSON.stringify(event)}\n${JSON.stringify({ ...event, id: 'e-2', ip: null, details: null })}\n`,
    );
    expect(csv.split('\r\n')).toEqual([
      'occurred_at,actor_type,actor,action,target_type,target_id,ip,request_id,details',
      '2026-12-04T10:00:00.000Z,user,user:u-1,api_key.created,api_key,k-1,203.0.113.7,req-1,"{""name"":""ci, \\""main\\"""",""permissions"":[""read:keys""]}"',
      '2026-12-04T10:00:00.000Z,user,user:u-1,api_key.created,api_key,k-1,,req-1,',
      '',
    ]);
  });

  it('keeps a value a spreadsheet would run as a formula from being one', () => {
    const csv = auditNdjsonToCsv(JSON.stringify({ ...event, actor: '=HYPERLINK("x")', details: null }));
    expect(csv.split('\r\n')[1]).toContain(`,"'=HYPERLINK(""x"")",`);
  });

  it('exports an empty selection as the header alone', () => {
    expect(auditNdjsonToCsv('')).toBe(
      'occurred_at,actor_type,actor,action,target_type,target_id,ip,request_id,details\r\n',
    );
  });
});
