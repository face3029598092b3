import type { AuditEvent } from './api/types';

export const AUDIT_COLUMNS = [
  'occurred_at',
  'actor_type',
  'actor',
  'action',
  'target_type',
  'target_id',
  'ip',
  'request_id',
  'details',
] as const;

/**
 * One CSV field (RFC 4180). A value a spreadsheet would run as a formula (=, +, -, @, tab, CR) is prefixed with a
 * quote: actors and details come from callers, and an export is opened by people.
 */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The API's NDJSON export, one event per line, as CSV with a header row. */
export function auditNdjsonToCsv(ndjson: string): string {
  const events = ndjson
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
  const rows = events.map((event) =>
    AUDIT_COLUMNS.map((column) => {
      const value = event[column];
      if (value === null || value === undefined) return '';
      return csvField(typeof value === 'string' ? value : JSON.stringify(value));
    }).join(','),
  );
  return [AUDIT_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}

/** Hands a file to the browser's downloads; nothing leaves the browser. */
export function download(fileName: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  URL.revokeObjectURL(url);
}
