import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants as zlib, gunzipSync, gzipSync } from 'node:zlib';
import { SingleBar } from 'cli-progress';
import type { operations, Schemas } from '@gatehouse/api-client';
import type { Api } from '../api';
import { detectCi, resolveScanContext, type DetectedCi, type ScanContext } from '../ci-env';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { idempotencyKey, sha256Hex } from '../idempotency';
import { isGzip, mediaTypeOf, type UploadFormat } from '../media-type';
import { printJson } from '../output';
import type { Runtime } from '../runtime';
import { atOrAbove, openAtOrAbove, type Severity } from '../severity';

export interface UploadOptions {
  repository?: string;
  commit?: string;
  ref?: string;
  tool?: string;
  /** Read the scan context from the CI's variables (default); `--no-detect` turns it off. */
  detect: boolean;
  format: UploadFormat;
  failOn?: Severity;
  /** Wait for uploads answered 202 to be processed (default). */
  wait: boolean;
  waitTimeoutSeconds: number;
  /** `Prefer: respond-async`: have the server store the upload and answer 202 whatever its size. */
  async: boolean;
  /** Undefined: a bar for uploads of at least PROGRESS_MIN_BYTES when stderr is a terminal. */
  progress?: boolean;
}

export const DEFAULT_WAIT_TIMEOUT_SECONDS = 600;
/** Smaller uploads take a moment: a bar would only flash. */
const PROGRESS_MIN_BYTES = 1024 * 1024;
const PROGRESS_CHUNK_BYTES = 64 * 1024;
const POLL_FIRST_MS = 1_000;
const POLL_MAX_MS = 5_000;

type UploadBody = operations['uploadFindings']['requestBody']['content']['application/json'];
type Scan = Schemas['Scan'];

export interface UploadedScan {
  file: string;
  scan_id: string;
  status: Scan['status'];
  results: number;
  new: number;
  unchanged: number;
  fixed: number;
  reopened: number;
  /** The server answered an earlier identical upload's result again (`Idempotent-Replayed`): nothing new stored. */
  replayed: boolean;
  media_type: string;
  idempotency_key: string;
  repository: string | null;
  ref: string | null;
  commit: string | null;
}

export interface FailOnResult {
  threshold: Severity;
  open: number;
  by_severity: Partial<Record<Severity, number>>;
  /** The repository and ref each count is of (null: the findings of the scan itself, which named none). */
  scopes: { repository: string | null; ref: string | null; scan_id?: string; open: number }[];
  passed: boolean;
}

interface PreparedFile {
  path: string;
  body: Buffer;
  mediaType: string;
  key: string;
}

async function prepare(path: string, format: UploadFormat, context: ScanContext): Promise<PreparedFile> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, ExitCode.Usage);
  }
  const gzipped = isGzip(content);
  // Enough of the start to tell SARIF from native JSON; a truncated gzip stream gives what it has so far.
  const start = gzipped
    ? safeGunzipStart(content)
    : content.subarray(0, Math.min(content.length, PROGRESS_CHUNK_BYTES));
  const mediaType = mediaTypeOf(basename(path), start, format);
  const body = gzipped ? content : gzipSync(content);
  const key = idempotencyKey({ contentSha256: sha256Hex(content), mediaType, context });
  return { path, body, mediaType, key };
}

function safeGunzipStart(content: Buffer): Buffer {
  try {
    return gunzipSync(content.subarray(0, PROGRESS_CHUNK_BYTES), { finishFlush: zlib.Z_SYNC_FLUSH });
  } catch {
    // Not the gzip it starts like: sent as it is, the server answers 400 saying so.
    return Buffer.alloc(0);
  }
}

/** The body handed to fetch in chunks, so that the bar follows what was taken for sending. */
function streamedBody(payload: Buffer, onChunk: (sentBytes: number) => void): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= payload.length) {
        controller.close();
        return;
      }
      const end = Math.min(payload.length, offset + PROGRESS_CHUNK_BYTES);
      controller.enqueue(new Uint8Array(payload.subarray(offset, end)));
      offset = end;
      onChunk(offset);
    },
  });
}

function progressBar(runtime: Runtime, file: string, total: number): SingleBar {
  const bar = new SingleBar({
    // What cli-progress uses of a stream (readline's cursor functions only write escape sequences to it).
    stream: {
      write: (text: string) => runtime.stderr.write(text),
      isTTY: runtime.stderr.isTTY,
      columns: runtime.stderr.columns,
    } as unknown as NodeJS.WritableStream,
    format: `uploading ${file} [{bar}] {percentage}% {value}/{total} bytes`,
    hideCursor: false,
    clearOnComplete: true,
    noTTYOutput: true,
    notTTYSchedule: 2000,
  });
  bar.start(total, 0);
  return bar;
}

async function send(
  api: Api,
  runtime: Runtime,
  file: PreparedFile,
  context: ScanContext,
  options: UploadOptions,
) {
  const showProgress =
    options.progress ??
    (runtime.stderr.isTTY && file.body.length >= PROGRESS_MIN_BYTES && !api.config.verbose);
  let bar: SingleBar | undefined;
  try {
    return await api.request(
      `upload of ${file.path}`,
      (init) => {
        bar?.stop();
        bar = showProgress ? progressBar(runtime, file.path, file.body.length) : undefined;
        const current = bar;
        return api.client.POST('/api/v1/findings', {
          ...init,
          params: { query: context, header: { 'Idempotency-Key': file.key } },
          headers: {
            ...init.headers,
            'Content-Type': file.mediaType,
            'Content-Encoding': 'gzip',
            ...(options.async ? { Prefer: 'respond-async' } : {}),
          },
          // The file's bytes as read (gzipped), not a JSON value of the client's: sent as they are.
          body: file.body as unknown as UploadBody,
          bodySerializer: () =>
            current ? streamedBody(file.body, (sent) => current.update(sent)) : file.body,
          ...(current ? { duplex: 'half' } : {}),
        });
      },
      { retry: 'all', retryInProgress: true },
    );
  } finally {
    bar?.stop();
  }
}

async function waitForScan(
  api: Api,
  runtime: Runtime,
  scanId: string,
  timeoutSeconds: number,
): Promise<Scan> {
  const deadline = runtime.now() + timeoutSeconds * 1000;
  let interval = POLL_FIRST_MS;
  for (;;) {
    const { data: scan } = await api.request(
      `reading scan ${scanId}`,
      (init) => api.client.GET('/api/v1/scans/{id}', { ...init, params: { path: { id: scanId } } }),
      { retry: 'all' },
    );
    if (scan.status === 'completed' || scan.status === 'failed') return scan;
    if (runtime.now() + interval > deadline) {
      throw new CliError(
        `scan ${scanId} is still ${scan.status} after ${timeoutSeconds} s (--wait-timeout); it is stored and will be ` +
          `processed: gatehouse scans get ${scanId} shows it`,
        ExitCode.Unavailable,
      );
    }
    api.debug(`scan ${scanId} is ${scan.status}; asking again in ${interval} ms`);
    await runtime.sleep(interval);
    interval = Math.min(POLL_MAX_MS, Math.round(interval * 1.5));
  }
}

async function getScan(api: Api, scanId: string): Promise<Scan> {
  const { data } = await api.request(
    `reading scan ${scanId}`,
    (init) => api.client.GET('/api/v1/scans/{id}', { ...init, params: { path: { id: scanId } } }),
    { retry: 'all' },
  );
  return data;
}

/** Open findings at or above the threshold in each repository and ref the uploads were of. */
async function checkThreshold(api: Api, scans: UploadedScan[], threshold: Severity): Promise<FailOnResult> {
  const scopes: FailOnResult['scopes'] = [];
  const bySeverity: Partial<Record<Severity, number>> = {};
  const seen = new Set<string>();
  for (const scan of scans) {
    if (scan.repository !== null) {
      const scopeKey = JSON.stringify([scan.repository, scan.ref]);
      if (seen.has(scopeKey)) continue;
      seen.add(scopeKey);
      const { data: summary } = await api.request(
        `reading the findings summary of ${scan.repository}`,
        (init) =>
          api.client.GET('/api/v1/findings/summary', {
            ...init,
            params: { query: { repository: scan.repository ?? undefined, ref: scan.ref ?? undefined } },
          }),
        { retry: 'all' },
      );
      const counts = openAtOrAbove(summary.by_severity, threshold);
      for (const [severity, open] of Object.entries(counts.bySeverity) as [Severity, number][]) {
        bySeverity[severity] = (bySeverity[severity] ?? 0) + open;
      }
      scopes.push({ repository: scan.repository, ref: scan.ref, open: counts.total });
    } else {
      // No repository to ask about: the findings this scan reported that are open are what it would gate on.
      let open = 0;
      let cursor: string | undefined;
      do {
        const { data: page } = await api.request(
          `listing the findings of scan ${scan.scan_id}`,
          (init) =>
            api.client.GET('/api/v1/findings', {
              ...init,
              params: {
                query: {
                  scan: scan.scan_id,
                  state: 'open',
                  severity: atOrAbove(threshold),
                  limit: 100,
                  cursor,
                },
              },
            }),
          { retry: 'all' },
        );
        for (const finding of page.data) {
          bySeverity[finding.severity] = (bySeverity[finding.severity] ?? 0) + 1;
          open += 1;
        }
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      scopes.push({ repository: null, ref: scan.ref, scan_id: scan.scan_id, open });
    }
  }
  const open = scopes.reduce((sum, scope) => sum + scope.open, 0);
  return { threshold, open, by_severity: bySeverity, scopes, passed: open === 0 };
}

function describeScope(scope: FailOnResult['scopes'][number]): string {
  if (scope.repository === null) return `scan ${scope.scan_id ?? ''}`;
  return scope.ref ? `${scope.repository} ${scope.ref}` : scope.repository;
}

export async function upload(
  api: Api,
  runtime: Runtime,
  files: string[],
  options: UploadOptions,
): Promise<number> {
  if (options.failOn && !options.wait) {
    throw new CliError(
      '--fail-on gates on the processed scans: it cannot be combined with --no-wait',
      ExitCode.Usage,
    );
  }
  const detected: DetectedCi | undefined = options.detect ? detectCi(runtime.env) : undefined;
  const context = resolveScanContext(
    { repository: options.repository, commit: options.commit, ref: options.ref, tool: options.tool },
    detected,
  );
  const prepared: PreparedFile[] = [];
  for (const file of files) prepared.push(await prepare(file, options.format, context));

  const claims = await api.claims();
  const permissions = claims.permissions ?? [];
  if (options.failOn && !permissions.includes('read:findings')) {
    throw new CliError(
      `--fail-on reads the findings: the key of client ${api.config.clientId} lacks read:findings ` +
        `(it holds ${permissions.join(', ') || 'nothing'}). Nothing was uploaded`,
      ExitCode.AuthRefused,
    );
  }
  if (detected) api.note(`${detected.name} detected: ${describeContext(context)}`);

  const scans: UploadedScan[] = [];
  for (const file of prepared) {
    const { data: summary, response } = await send(api, runtime, file, context, options);
    const replayed = response.headers.get('idempotent-replayed') === 'true';
    let scan: UploadedScan = {
      file: file.path,
      scan_id: summary.scan_id,
      status: summary.status,
      results: summary.results,
      new: summary.new,
      unchanged: summary.unchanged,
      fixed: summary.fixed,
      reopened: summary.reopened,
      replayed,
      media_type: file.mediaType,
      idempotency_key: file.key,
      repository: context.repository ?? null,
      ref: context.ref ?? null,
      commit: context.commit ?? null,
    };
    const canRead = permissions.includes('read:findings');
    const pending = scan.status === 'queued' || scan.status === 'processing';
    let stored: Scan | undefined;
    if (pending && options.wait && canRead) {
      api.note(`${file.path}: stored as scan ${scan.scan_id}, waiting for it to be processed`);
      stored = await waitForScan(api, runtime, scan.scan_id, options.waitTimeoutSeconds);
    } else if (pending && options.wait) {
      api.note(
        `${file.path}: stored as scan ${scan.scan_id} for processing; not waiting: reading scans needs ` +
          'read:findings, which this key lacks',
      );
    } else if (options.failOn) {
      stored = await getScan(api, scan.scan_id);
    }
    if (stored) {
      scan = {
        ...scan,
        status: stored.status,
        results: stored.results,
        new: stored.new,
        unchanged: stored.unchanged,
        fixed: stored.fixed,
        reopened: stored.reopened,
        repository: stored.repository,
        ref: stored.ref,
        commit: stored.commit,
      };
      if (stored.status === 'failed') {
        const error = stored.error;
        throw new CliError(
          `${file.path}: scan ${stored.id} failed: ${error?.message ?? 'no reason given'}` +
            (error?.code ? ` (${error.code})` : ''),
          ExitCode.Refused,
        );
      }
    }
    scans.push(scan);
    if (!api.config.json) runtime.stdout.write(describeScan(scan) + '\n');
  }

  const failOn = options.failOn ? await checkThreshold(api, scans, options.failOn) : undefined;
  const totals = { results: 0, new: 0, unchanged: 0, fixed: 0, reopened: 0 };
  for (const scan of scans) {
    for (const field of Object.keys(totals) as (keyof typeof totals)[]) totals[field] += scan[field];
  }
  if (api.config.json) {
    printJson(runtime.stdout, {
      ci: detected ? { id: detected.ci, name: detected.name } : null,
      context,
      scans,
      totals,
      fail_on: failOn ?? null,
    });
  } else if (failOn) {
    const counts = Object.entries(failOn.by_severity)
      .filter(([, count]) => count > 0)
      .map(([severity, count]) => `${count} ${severity}`)
      .join(', ');
    runtime.stdout.write(
      failOn.passed
        ? `fail-on ${failOn.threshold}: no open findings at or above ${failOn.threshold} ` +
            `(${failOn.scopes.map(describeScope).join('; ')})\n`
        : `fail-on ${failOn.threshold}: ${failOn.open} open findings at or above ${failOn.threshold} (${counts}) ` +
            `in ${failOn.scopes
              .filter((scope) => scope.open > 0)
              .map(describeScope)
              .join('; ')}\n`,
    );
  }
  return failOn && !failOn.passed ? ExitCode.FindingsOverThreshold : ExitCode.Ok;
}

function describeContext(context: ScanContext): string {
  const parts = [
    context.repository && `repository ${context.repository}`,
    context.ref && `ref ${context.ref}`,
    context.commit && `commit ${context.commit}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'no repository, ref or commit in its variables';
}

function describeScan(scan: UploadedScan): string {
  const of = [scan.repository, scan.ref, scan.commit && scan.commit.slice(0, 12)].filter(Boolean).join(' ');
  const counts =
    scan.status === 'completed'
      ? `${scan.results} results: ${scan.new} new, ${scan.unchanged} unchanged, ${scan.fixed} fixed, ` +
        `${scan.reopened} reopened`
      : `${scan.status} (not processed yet)`;
  return (
    `${scan.file}: scan ${scan.scan_id}${of ? ` of ${of}` : ''}: ${counts}` +
    (scan.replayed ? ' (already uploaded: the first answer, nothing stored again)' : '')
  );
}
