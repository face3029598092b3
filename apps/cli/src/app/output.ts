import Table from 'cli-table3';
import type { Output } from './runtime';

export type Cell = string | number | boolean | null | undefined;

export function printJson(out: Output, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

function text(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell);
}

/** A table for people on a terminal: no colours (CI logs show escape codes as they are). */
export function printTable(out: Output, head: string[], rows: Cell[][]): void {
  const table = new Table({ head, style: { head: [], border: [] }, wordWrap: true });
  for (const row of rows) table.push(row.map(text));
  out.write(table.toString() + '\n');
}

/** One record as `field │ value` rows. */
export function printRecord(out: Output, fields: [string, Cell][]): void {
  const table = new Table({ style: { head: [], border: [] }, wordWrap: true });
  for (const [name, value] of fields) table.push({ [name]: text(value) });
  out.write(table.toString() + '\n');
}

/** An ISO timestamp as people read it in a table: to the second, in UTC. */
export function when(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  return value.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function list(values: readonly string[] | null | undefined): string | undefined {
  return values && values.length > 0 ? values.join(', ') : undefined;
}
