import type { operations, Schemas } from '@gatehouse/api-client';
import type { Api } from '../api';
import { ExitCode } from '../exit-codes';
import { printJson, printRecord, printTable, when } from '../output';
import type { Runtime } from '../runtime';
import { SEVERITIES, type Severity } from '../severity';
import { collectPages, type PageOptions } from './keys';

type Finding = Schemas['Finding'];
type Scan = Schemas['Scan'];
type FindingsQuery = NonNullable<operations['listFindings']['parameters']['query']>;
type SummaryQuery = NonNullable<operations['summarizeFindings']['parameters']['query']>;
type ScansQuery = NonNullable<operations['listScans']['parameters']['query']>;

function location(finding: Finding): string | undefined {
  if (!finding.location) return undefined;
  const { path, start_line: line } = finding.location;
  return line ? `${path}:${line}` : path;
}

export interface ListFindingsOptions extends PageOptions {
  state?: FindingsQuery['state'];
  severity?: Severity[];
  tool?: string;
  rule?: string;
  repository?: string;
  ref?: string;
  pathPrefix?: string;
  scan?: string;
  since?: string;
  before?: string;
}

export async function listFindings(
  api: Api,
  runtime: Runtime,
  options: ListFindingsOptions,
): Promise<number> {
  const page = await collectPages<Finding>(options, async (cursor) => {
    const query: FindingsQuery = {
      limit: options.limit,
      cursor,
      state: options.state,
      severity: options.severity,
      tool: options.tool,
      rule: options.rule,
      repository: options.repository,
      ref: options.ref,
      path_prefix: options.pathPrefix,
      scan: options.scan,
      first_seen_after: options.since,
      first_seen_before: options.before,
    };
    const { data } = await api.request(
      'listing findings',
      (init) => api.client.GET('/api/v1/findings', { ...init, params: { query } }),
      { retry: 'all' },
    );
    return data;
  });
  if (api.config.machine) {
    printJson(runtime.stdout, page);
    return ExitCode.Ok;
  }
  printTable(
    runtime.stdout,
    ['id', 'severity', 'state', 'title', 'repository', 'ref', 'location', 'last seen'],
    page.data.map((finding) => [
      finding.id,
      finding.severity,
      finding.state,
      finding.title,
      finding.repository,
      finding.ref,
      location(finding),
      when(finding.last_seen_at),
    ]),
  );
  if (page.next_cursor) api.note(`more: --cursor ${page.next_cursor} (or --all)`);
  return ExitCode.Ok;
}

export async function summarizeFindings(
  api: Api,
  runtime: Runtime,
  query: { repository?: string; ref?: string; tool?: string; groupBy?: SummaryQuery['group_by'] },
): Promise<number> {
  const { data: summary } = await api.request(
    'reading the findings summary',
    (init) =>
      api.client.GET('/api/v1/findings/summary', {
        ...init,
        params: {
          query: { repository: query.repository, ref: query.ref, tool: query.tool, group_by: query.groupBy },
        },
      }),
    { retry: 'all' },
  );
  if (api.config.machine) {
    printJson(runtime.stdout, summary);
    return ExitCode.Ok;
  }
  printTable(
    runtime.stdout,
    ['severity', 'open', 'fixed'],
    [
      ...SEVERITIES.map((severity) => [
        severity,
        summary.by_severity[severity].open,
        summary.by_severity[severity].fixed,
      ]),
      ['total', summary.total.open, summary.total.fixed],
    ],
  );
  if (summary.groups && query.groupBy) {
    const field = query.groupBy;
    printTable(
      runtime.stdout,
      [field, 'open', 'fixed', ...SEVERITIES.map((severity) => `${severity} open`)],
      summary.groups.map((group) => [
        group[field] ?? '(none)',
        group.total.open,
        group.total.fixed,
        ...SEVERITIES.map((severity) => group.by_severity[severity].open),
      ]),
    );
    if (summary.groups_truncated) api.note('only the first groups are shown (groups_truncated)');
  }
  return ExitCode.Ok;
}

export async function getFinding(api: Api, runtime: Runtime, id: string): Promise<number> {
  const { data: finding } = await api.request(
    `reading finding ${id}`,
    (init) => api.client.GET('/api/v1/findings/{id}', { ...init, params: { path: { id } } }),
    { retry: 'all' },
  );
  if (api.config.machine) {
    printJson(runtime.stdout, finding);
    return ExitCode.Ok;
  }
  printRecord(runtime.stdout, [
    ['id', finding.id],
    ['title', finding.title],
    ['severity', finding.severity],
    ['state', finding.state],
    ['rule_id', finding.rule_id],
    ['tool', finding.tool],
    ['repository', finding.repository],
    ['ref', finding.ref],
    ['location', location(finding)],
    ['description', finding.description],
    ['occurrences', finding.occurrences],
    ['first_seen_at', when(finding.first_seen_at)],
    ['last_seen_at', when(finding.last_seen_at)],
    ['fixed_at', when(finding.fixed_at)],
    ['identity', finding.identity],
  ]);
  if (finding.history.length > 0) {
    printTable(
      runtime.stdout,
      ['history', 'scan', 'commit', 'when'],
      finding.history.map((entry) => [entry.event, entry.scan_id, entry.commit, when(entry.at)]),
    );
  }
  return ExitCode.Ok;
}

function scanRows(scans: Scan[]) {
  return scans.map((scan) => [
    scan.id,
    scan.status,
    scan.repository,
    scan.ref,
    scan.commit?.slice(0, 12),
    scan.tools.map((tool) => tool.name).join(', '),
    `${scan.results} (${scan.new} new, ${scan.fixed} fixed)`,
    when(scan.received_at),
  ]);
}

const SCAN_HEAD = ['id', 'status', 'repository', 'ref', 'commit', 'tools', 'results', 'received'];

export async function listScans(
  api: Api,
  runtime: Runtime,
  options: PageOptions & { status?: ScansQuery['status']; repository?: string; ref?: string },
): Promise<number> {
  const page = await collectPages<Scan>(options, async (cursor) => {
    const { data } = await api.request(
      'listing scans',
      (init) =>
        api.client.GET('/api/v1/scans', {
          ...init,
          params: {
            query: {
              limit: options.limit,
              cursor,
              status: options.status,
              repository: options.repository,
              ref: options.ref,
            },
          },
        }),
      { retry: 'all' },
    );
    return data;
  });
  if (api.config.machine) {
    printJson(runtime.stdout, page);
    return ExitCode.Ok;
  }
  printTable(runtime.stdout, SCAN_HEAD, scanRows(page.data));
  if (page.next_cursor) api.note(`more: --cursor ${page.next_cursor} (or --all)`);
  return ExitCode.Ok;
}

export async function getScan(api: Api, runtime: Runtime, id: string): Promise<number> {
  const { data: scan } = await api.request(
    `reading scan ${id}`,
    (init) => api.client.GET('/api/v1/scans/{id}', { ...init, params: { path: { id } } }),
    { retry: 'all' },
  );
  if (api.config.machine) {
    printJson(runtime.stdout, scan);
    return ExitCode.Ok;
  }
  printRecord(runtime.stdout, [
    ['id', scan.id],
    ['status', scan.status],
    ['format', scan.format],
    ['repository', scan.repository],
    ['ref', scan.ref],
    ['commit', scan.commit],
    [
      'tools',
      scan.tools.map((tool) => (tool.version ? `${tool.name} ${tool.version}` : tool.name)).join(', '),
    ],
    ['results', scan.results],
    ['new', scan.new],
    ['unchanged', scan.unchanged],
    ['fixed', scan.fixed],
    ['reopened', scan.reopened],
    ['error', scan.error ? `${scan.error.code}: ${scan.error.message}` : undefined],
    ['received_at', when(scan.received_at)],
    ['completed_at', when(scan.completed_at)],
    ['duration_ms', scan.duration_ms],
  ]);
  return ExitCode.Ok;
}
