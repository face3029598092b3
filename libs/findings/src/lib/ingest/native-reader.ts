import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { GatehouseError } from '@gatehouse/contracts';
import { SEVERITIES } from '../findings.constants';
import { FINDING_DESCRIPTION_MAX, FindingDto } from '../dto/ingest-findings.dto';
import { findingIdentity } from './identity';
import { TEXT_MAX, cleanText, cutText, sanitizeJson, sanitizeText } from './text';
import type { FindingsRoot, JsonKind, Selection, Visit } from './upload-reader';
import type { MappedFinding, MappedLocation, RunContext, UploadLimits } from './upload.types';

/**
 * The native format, `{ "findings": [FindingDto, …] }`, as the API has always accepted it: each item is
 * validated against FindingDto exactly as the app's ValidationPipe would (unknown fields refused), and the
 * message names the item (`findings[12].severity: …`). Its one run is the query's context; a finding's own
 * `tool` wins over the query's. Items are read one at a time like SARIF results, so the old limit of 1 000
 * findings in 1 MiB becomes the per-run result limit.
 */

const SKIP: Visit = { type: 'skip' };
const ALL: Selection = { all: true };

/** Bytes of one native finding (its metadata is free-form) that Gatehouse reads, at most. */
export const NATIVE_FINDING_MAX_BYTES = 1024 * 1024;

interface FieldProblem {
  field: string;
  problems: string[];
}

/** `findings[3].location.path`, as the ValidationPipe flattens nested errors. */
function flatten(errors: ValidationError[], parent: string): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = `${parent}.${error.property}`;
    const own: FieldProblem[] = error.constraints
      ? [{ field, problems: Object.values(error.constraints) }]
      : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

function invalid(details: FieldProblem[]): GatehouseError {
  const summary = details.map((detail) => `${detail.field}: ${detail.problems.join(', ')}`).join('; ');
  return new GatehouseError('validation_failed', summary, details);
}

/** The first pass's view of a native document: that `findings` is a list of an allowed length, alone. */
export class NativeOutline {
  private kind: JsonKind | null = null;
  private count = 0;
  private repeated = false;

  findingsVisit(kind: JsonKind): Visit {
    this.repeated ||= this.kind !== null;
    this.kind = kind;
    if (kind !== 'array') return SKIP;
    // Counted, not built: the limit refuses an oversized upload before any finding exists.
    return { type: 'stream', handler: { child: () => SKIP, end: (count) => (this.count = count) } };
  }

  /**
   * Once the document is known to be native: refuses what IngestFindingsDto would have refused. `otherKeys` are
   * the top-level keys other than `findings` (the first few).
   */
  check(otherKeys: readonly string[], limits: UploadLimits): void {
    const unknown = otherKeys;
    if (unknown.length > 0) {
      throw invalid(unknown.map((key) => ({ field: key, problems: [`property ${key} should not exist`] })));
    }
    if (this.repeated) throw invalid([{ field: 'findings', problems: ['findings must appear once'] }]);
    if (this.kind !== 'array')
      throw invalid([{ field: 'findings', problems: ['findings must be an array'] }]);
    if (this.count === 0) {
      throw invalid([{ field: 'findings', problems: ['findings must contain at least 1 elements'] }]);
    }
    const max = limits.resultsPerRun;
    if (this.count > max) {
      throw new GatehouseError(
        'limit_exceeded',
        `findings: more than ${max} findings (SCAN_MAX_RESULTS_PER_RUN)`,
        {
          limit: 'SCAN_MAX_RESULTS_PER_RUN',
          max,
        },
      );
    }
  }
}

/** The native upload's one run: the query's context. */
export function nativeRun(context: {
  tool?: string;
  repository?: string;
  commit?: string;
  ref?: string;
}): RunContext {
  return {
    index: 0,
    tool: cleanText(context.tool, TEXT_MAX.tool),
    toolVersion: null,
    repository: cleanText(context.repository, TEXT_MAX.repository),
    commit: cleanText(context.commit, TEXT_MAX.commit),
    ref: cleanText(context.ref, TEXT_MAX.ref),
  };
}

/** The findings.fingerprint column. */
const FINGERPRINT_MAX = 200;

/** Keys that name an object's prototype machinery rather than data. */
const PROTOTYPE_KEYS = new Set(['constructor', 'prototype', '__proto__']);

/** The path of the first own key of that kind in `value` (an item of bounded size), or undefined. */
function findPrototypeKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`;
    if (!Array.isArray(value) && PROTOTYPE_KEYS.has(key)) return childPath;
    const found = findPrototypeKey(child, childPath);
    if (found) return found;
  }
  return undefined;
}

const SEVERITY_SET: ReadonlySet<unknown> = new Set(SEVERITIES);
const FINDING_KEYS: ReadonlySet<string> = new Set([
  'rule_id',
  'title',
  'severity',
  'location',
  'description',
  'tool',
  'fingerprint',
  'metadata',
]);
const LOCATION_KEYS: ReadonlySet<string> = new Set(['path', 'start_line', 'end_line']);
/**
 * Characters validator.js's length does not count one for one (surrogate pairs, variation selectors): a text with
 * one of them is left to class-validator, so that a length judged here is always the length it would judge.
 */
const UNEVEN_LENGTH = /[\uD800-\uDFFF\uFE0E\uFE0F]/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function isText(value: unknown, min: number, max: number): value is string {
  return (
    typeof value === 'string' && value.length >= min && value.length <= max && !UNEVEN_LENGTH.test(value)
  );
}

function isOptionalText(value: unknown, min: number, max: number): boolean {
  return value === undefined || isText(value, min, max);
}

function isOptionalLine(value: unknown): boolean {
  return (
    value === undefined ||
    (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 10_000_000)
  );
}

/**
 * The common shape of a native finding, checked in one pass without class-transformer and class-validator (a
 * fifth of findings-service's CPU per one-finding upload, docs/BENCHMARKS.md M8): only known keys, every field of
 * its type within FindingDto's limits, no null. It accepts only what FindingDto's validation accepts (held so by
 * native-reader.spec.ts); anything else, `undefined`, goes through class-validator, which says what is wrong.
 * `metadata` is judged by the caller, as on the slow path.
 */
export function acceptedFinding(fields: Record<string, unknown>): FindingDto | undefined {
  for (const key in fields) if (!FINDING_KEYS.has(key)) return undefined;
  const location = fields['location'];
  if (!isPlainObject(location)) return undefined;
  for (const key in location) if (!LOCATION_KEYS.has(key)) return undefined;
  const accepted =
    isText(fields['rule_id'], 1, 200) &&
    isText(fields['title'], 1, 500) &&
    SEVERITY_SET.has(fields['severity']) &&
    isText(location['path'], 1, 1000) &&
    isOptionalLine(location['start_line']) &&
    isOptionalLine(location['end_line']) &&
    isOptionalText(fields['description'], 0, FINDING_DESCRIPTION_MAX) &&
    isOptionalText(fields['tool'], 1, 100) &&
    isOptionalText(fields['fingerprint'], 1, 200);
  return accepted ? (fields as unknown as FindingDto) : undefined;
}

/** One item as class-transformer builds it, for class-validator: what the fast check does not accept. */
function transformedFinding(fields: Record<string, unknown>, field: string): FindingDto {
  // class-transformer reads `constructor` off every object it copies: an own key of that name made it throw (a
  // 500). No field of the native format is named so, and free-form `metadata` is kept out of its hands.
  const prototypeKey = findPrototypeKey(fields, field);
  if (prototypeKey) throw invalid([{ field: prototypeKey, problems: [`${prototypeKey} should not exist`] }]);
  return plainToInstance(FindingDto, fields);
}

function validate(finding: FindingDto, field: string): void {
  const errors = validateSync(finding, {
    whitelist: true,
    forbidNonWhitelisted: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) throw invalid(flatten(errors, field));
}

/** One native item validated and mapped. */
export function mapNativeFinding(raw: unknown, index: number, run: RunContext): MappedFinding {
  const field = `findings[${index}]`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid([{ field, problems: [`${field} must be an object`] }]);
  }
  const { metadata, ...fields } = raw as Record<string, unknown>;
  const accepted = acceptedFinding(fields);
  const finding = accepted ?? transformedFinding(fields, field);
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw invalid([{ field: `${field}.metadata`, problems: ['metadata must be an object'] }]);
    }
    finding.metadata = metadata as Record<string, unknown>;
  }
  if (!accepted) validate(finding, field);

  // Lengths are validated; only NUL and lone surrogates, which PostgreSQL cannot store, are replaced.
  // Validated lengths count as validator.js does (a character and its variation selector as one); the columns
  // count code points. Cutting to the UTF-16 length, never shorter, makes every kept text fit its column.
  const tool = cutText(
    finding.tool === undefined ? (run.tool ?? '') : sanitizeText(finding.tool),
    TEXT_MAX.tool,
  );
  const ruleId = cutText(sanitizeText(finding.rule_id), TEXT_MAX.ruleId);
  const description = finding.description ? sanitizeText(finding.description) : null;
  const location: MappedLocation = { path: cutText(sanitizeText(finding.location.path), TEXT_MAX.path) };
  if (finding.location.start_line !== undefined) location.start_line = finding.location.start_line;
  if (finding.location.end_line !== undefined) location.end_line = finding.location.end_line;
  const { identity, identitySource } = findingIdentity({
    tool,
    ruleId,
    path: location.path,
    fingerprint: finding.fingerprint ?? null,
    startLine: location.start_line ?? null,
    message: description,
  });
  return {
    runIndex: 0,
    resultIndex: index,
    identity,
    identitySource,
    fingerprint:
      finding.fingerprint === undefined ? null : cutText(sanitizeText(finding.fingerprint), FINGERPRINT_MAX),
    tool,
    ruleId,
    title: cutText(sanitizeText(finding.title), TEXT_MAX.title),
    description,
    severity: finding.severity,
    location,
    rule: { name: null, help: null, helpUri: null, tags: [], cwe: [] },
    metadata:
      // Free-form and stored as given (the item's 1 MiB bounds it): only what jsonb cannot hold is replaced.
      finding.metadata === undefined
        ? null
        : (sanitizeJson(finding.metadata, Infinity) as Record<string, unknown>),
  };
}

/** The second pass's root: each item of `findings`, captured one by one and mapped when the caller takes it. */
export function nativeFindingsRoot(run: RunContext): FindingsRoot {
  return (push) => {
    const items: Visit = {
      type: 'stream',
      handler: {
        child: (index) => ({
          type: 'capture',
          selection: ALL,
          budget: {
            remaining: NATIVE_FINDING_MAX_BYTES,
            exceeded: () =>
              new GatehouseError(
                'limit_exceeded',
                `findings[${index}]: larger than ${NATIVE_FINDING_MAX_BYTES} bytes`,
                { limit: 'finding_bytes', max: NATIVE_FINDING_MAX_BYTES },
              ),
          },
          done: (raw) => push(() => mapNativeFinding(raw, index as number, run)),
        }),
      },
    };
    return () => ({
      type: 'stream',
      handler: { child: (key, kind) => (key === 'findings' && kind === 'array' ? items : SKIP) },
    });
  };
}
