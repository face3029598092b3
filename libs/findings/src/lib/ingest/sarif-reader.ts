import { GatehouseError } from '@gatehouse/contracts';
import { findingIdentity } from './identity';
import { sarifSeverity } from './severity';
import { TAGS_MAX, TEXT_MAX, cleanText, cutText, firstLine, sanitizeText } from './text';
import type {
  Budget,
  FindingsRoot,
  JsonKey,
  JsonKind,
  Selection,
  StreamHandler,
  Visit,
} from './upload-reader';
import type { MappedFinding, MappedLocation, RunContext, UploadLimits } from './upload.types';

/**
 * SARIF 2.1.0 → what Gatehouse stores. The first pass (SarifOutline) collects each run's header: its tool and
 * rules, version control provenance, base URIs, artifacts, and how many results it has; the second pass
 * (sarifResultsRoot) captures one result at a time and maps it with mapSarifResult.
 *
 * Strict where a mistake would make Gatehouse store something wrong, lenient where SARIF has a default:
 * - a container Gatehouse reads (runs, a run, results, a result, its message, locations, physicalLocation,
 *   region, fingerprints, suppressions, a rule, …) of the wrong JSON type → 400 invalid_sarif saying where
 *   (`runs[1].results[17].locations: must be an array`, details `{ pointer: '/runs/1/results/17/locations' }`);
 *   so does a result without any rule id, a reference to an artifact that does not exist, and a key that
 *   appears twice where Gatehouse reads it;
 * - a primitive of the wrong type or value (a level "critical", a line "12") counts as absent.
 * Results that are not findings are skipped, though they count toward the per-run limit: `kind` set and not
 * 'fail' (pass, notApplicable, informational, review, open); suppressed (a suppression accepted or without a
 * status, and none underReview or rejected, as GitLab's SARIF import decides); `baselineState` 'absent' (the
 * run says the result is gone).
 */

const SKIP: Visit = { type: 'skip' };
const ALL: Selection = { all: true };
/** For values that should be primitives: an object or array in their place is kept empty. */
const PRIMITIVE: Selection = { fields: {} };

/** Bytes of one result that Gatehouse keeps (its message, first location, fingerprints, properties), at most. */
export const RESULT_MAX_BYTES = 1024 * 1024;
/** Bytes of all the runs' headers that Gatehouse keeps (rules, artifacts' URIs, base URIs), at most. */
export const RUN_HEADERS_MAX_BYTES = 32 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

type Path = readonly JsonKey[];

/** `runs[1].results[17].locations` */
export function sarifWhere(path: Path): string {
  let where = '';
  for (const key of path) where += typeof key === 'number' ? `[${key}]` : where === '' ? key : `.${key}`;
  return where;
}

/** `/runs/1/results/17/locations` (RFC 6901) */
export function sarifPointer(path: Path): string {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function invalidSarif(path: Path, problem: string): GatehouseError {
  const where = path.length === 0 ? 'The SARIF log' : sarifWhere(path);
  return new GatehouseError('invalid_sarif', `${where}: ${problem}`, { pointer: sarifPointer(path) });
}

function tooMany(where: string, max: number, what: string, limit: string): GatehouseError {
  return new GatehouseError('limit_exceeded', `${where}: more than ${max} ${what} (${limit})`, {
    limit,
    max,
  });
}

function tooLarge(path: Path, what: string, max: number, limit: string): GatehouseError {
  const where = path.length === 0 ? '' : `${sarifWhere(path)}: `;
  return new GatehouseError('limit_exceeded', `${where}${what} larger than ${max} bytes`, {
    limit,
    max,
    ...(path.length === 0 ? {} : { pointer: sarifPointer(path) }),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Reading captured values
// ---------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Array.isArray without its `any[]`. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/** The object at `key`; undefined when absent or null; anything else is invalid. */
function objectAt(parent: Json | undefined, key: string, path: Path): Json | undefined {
  const value = parent?.[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalidSarif([...path, key], 'must be an object');
  return value;
}

/** The array at `key`; undefined when absent or null; anything else is invalid. */
function arrayAt(parent: Json | undefined, key: string, path: Path): readonly unknown[] | undefined {
  const value = parent?.[key];
  if (value === undefined || value === null) return undefined;
  if (!isList(value)) throw invalidSarif([...path, key], 'must be an array');
  return value;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function indexOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Lines and columns as the native format bounds them (1 … 10 000 000). */
function lineOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 10_000_000
    ? value
    : undefined;
}

/** The string items of a list, cleaned, deduplicated, first TAGS_MAX. */
function tagList(value: unknown, into: string[] = []): string[] {
  if (!isList(value)) return into;
  for (const item of value) {
    const tag = cleanText(item, TEXT_MAX.tag);
    if (tag !== null && !into.includes(tag) && into.length < TAGS_MAX) into.push(tag);
  }
  return into;
}

// CodeQL: external/cwe/cwe-079; Semgrep: "CWE-79: Improper Neutralization …"; Flawfinder: CWE-120; also cwe_79.
const CWE = /^(?:external\/cwe\/)?cwe[-_:/ ]?0*([1-9]\d{0,5})(?!\d)/i;

/** `CWE-79` ids named by tags, cwe properties (strings, numbers or lists) and taxonomy relationships. */
function cweIds(values: unknown[]): string[] {
  const ids = new Set<number>();
  for (const value of values) {
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) ids.add(value);
    else if (typeof value === 'string') {
      const match = CWE.exec(value.trim());
      if (match) ids.add(Number(match[1]));
    }
  }
  return [...ids].sort((a, b) => a - b).map((id) => `CWE-${id}`);
}

function relationshipTargets(relationships: unknown): unknown[] {
  if (!isList(relationships)) return [];
  return relationships.map((relationship) =>
    isObject(relationship) && isObject(relationship.target) ? relationship.target.id : undefined,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Pass 1: runs' headers
// ---------------------------------------------------------------------------------------------------------

/** What Gatehouse keeps of a rule (reportingDescriptor), cleaned and cut once for all its results. */
interface RuleInfo {
  /** As given, to be looked up by a result's ruleId. */
  id: string | null;
  name: string | null;
  /** `shortDescription.text` */
  title: string | null;
  /** `help.text`, else `help.markdown`, else `fullDescription.text` */
  help: string | null;
  helpUri: string | null;
  tags: string[];
  cwe: string[];
  /** `properties['security-severity']`, as given */
  score: unknown;
  /** `defaultConfiguration.level`, as given */
  level: unknown;
  precision: string | null;
  messageStrings: ReadonlyMap<string, string>;
}

const TEXT_OBJECT: Selection = { fields: { text: ALL, markdown: ALL } };

const RULE_SELECTION: Selection = {
  fields: {
    id: ALL,
    name: ALL,
    shortDescription: TEXT_OBJECT,
    fullDescription: TEXT_OBJECT,
    help: TEXT_OBJECT,
    helpUri: ALL,
    defaultConfiguration: { fields: { level: ALL } },
    properties: {
      fields: { tags: { items: ALL, max: TAGS_MAX }, 'security-severity': ALL, precision: ALL, cwe: ALL },
    },
    messageStrings: ALL,
    relationships: { items: { fields: { target: { fields: { id: ALL } } } }, max: 100 },
  },
};

function compactRule(rule: Json, path: Path): RuleInfo {
  const properties = objectAt(rule, 'properties', path);
  const help = objectAt(rule, 'help', path);
  const tags = tagList(properties?.tags);
  const cwe = properties?.cwe;
  const messageStrings = new Map<string, string>();
  for (const [id, value] of Object.entries(objectAt(rule, 'messageStrings', path) ?? {})) {
    const text = isObject(value) ? (stringOf(value.text) ?? stringOf(value.markdown)) : undefined;
    if (text !== undefined) messageStrings.set(id, text);
  }
  return {
    id: stringOf(rule.id) ?? null,
    name: cleanText(rule.name, TEXT_MAX.ruleName),
    title: cleanText(objectAt(rule, 'shortDescription', path)?.text, TEXT_MAX.title),
    help:
      cleanText(help?.text, TEXT_MAX.ruleHelp) ??
      cleanText(help?.markdown, TEXT_MAX.ruleHelp) ??
      cleanText(objectAt(rule, 'fullDescription', path)?.text, TEXT_MAX.ruleHelp),
    helpUri: cleanText(rule.helpUri, TEXT_MAX.helpUri),
    tags,
    cwe: cweIds([...tags, ...(isList(cwe) ? cwe : [cwe]), ...relationshipTargets(rule.relationships)]),
    score: properties?.['security-severity'],
    level: objectAt(rule, 'defaultConfiguration', path)?.level,
    precision: cleanText(properties?.precision, TEXT_MAX.other),
    messageStrings,
  };
}

/** A tool component (the driver or an extension) and its rules. */
class Component {
  name: unknown = undefined;
  version: unknown = undefined;
  semanticVersion: unknown = undefined;
  guid: unknown = undefined;
  readonly rules: (RuleInfo | undefined)[] = [];
  private byId: Map<string, RuleInfo> | null = null;

  ruleById(id: string): RuleInfo | undefined {
    if (this.byId === null) {
      this.byId = new Map();
      // The first rule of an id wins, as its index would.
      for (const rule of this.rules)
        if (rule?.id != null && !this.byId.has(rule.id)) this.byId.set(rule.id, rule);
    }
    return this.byId.get(id);
  }
}

interface ArtifactRef {
  uri: string | null;
  uriBaseId: string | null;
}

const ARTIFACT_SELECTION: Selection = { fields: { location: { fields: { uri: ALL, uriBaseId: ALL } } } };
const PROVENANCE_SELECTION: Selection = {
  items: { fields: { repositoryUri: ALL, revisionId: ALL, branch: ALL, revisionTag: ALL } },
  max: 1,
};

/** Refuses the value unless it is of the expected container kind; null counts as absent. */
function expectContainer(
  kind: JsonKind,
  expected: 'object' | 'array',
  path: Path,
  visit: () => Visit,
): Visit {
  if (kind === 'null') return SKIP;
  if (kind !== expected) throw invalidSarif(path, `must be an ${expected}`);
  return visit();
}

/**
 * Charges what the walker cannot see: the compact form a rule, an artifact or a tool extension takes once
 * kept (a Map, arrays, an object). Without it, a million empty rules (`{}`) would cost little budget and a lot
 * of memory.
 */
function spend(budget: Budget, bytes: number): void {
  budget.remaining -= bytes;
  if (budget.remaining < 0) throw budget.exceeded();
}

/** A handler's guard against a key that appears twice, which would let a run count or declare things twice. */
function once(seen: Set<JsonKey>, key: JsonKey, path: Path): void {
  if (seen.has(key)) throw invalidSarif(path, 'appears twice');
  seen.add(key);
}

class RunHeader {
  readonly driver = new Component();
  readonly extensions: Component[] = [];
  provenance: unknown = undefined;
  baseIds: unknown = undefined;
  automation: unknown = undefined;
  readonly artifacts: (ArtifactRef | undefined)[] = [];
  results = 0;

  constructor(
    readonly index: number,
    private readonly limits: UploadLimits,
    private readonly budget: Budget,
  ) {}

  handler(): StreamHandler {
    const seen = new Set<JsonKey>();
    return {
      child: (key, kind) => {
        const path: Path = ['runs', this.index, key];
        switch (key) {
          case 'tool':
            once(seen, key, path);
            return expectContainer(kind, 'object', path, () => this.stream(this.toolHandler(path)));
          case 'results':
            once(seen, key, path);
            return expectContainer(kind, 'array', path, () => this.stream(this.resultsCounter()));
          case 'artifacts':
            once(seen, key, path);
            return expectContainer(kind, 'array', path, () => this.stream(this.artifactsHandler(path)));
          case 'versionControlProvenance':
            once(seen, key, path);
            return expectContainer(kind, 'array', path, () =>
              this.capture(PROVENANCE_SELECTION, (value) => (this.provenance = value)),
            );
          case 'originalUriBaseIds':
            once(seen, key, path);
            return expectContainer(kind, 'object', path, () =>
              this.capture(ALL, (value) => (this.baseIds = value)),
            );
          case 'automationDetails':
            once(seen, key, path);
            return expectContainer(kind, 'object', path, () =>
              this.capture({ fields: { id: ALL } }, (value) => (this.automation = value)),
            );
          default:
            return SKIP;
        }
      },
    };
  }

  private stream(handler: StreamHandler): Visit {
    return { type: 'stream', handler };
  }

  private capture(selection: Selection, done: (value: unknown) => void): Visit {
    return { type: 'capture', selection, budget: this.budget, done };
  }

  /** Counts results without building them: the limit refuses an oversized run before any finding exists. */
  private resultsCounter(): StreamHandler {
    const max = this.limits.resultsPerRun;
    return {
      child: (index) => {
        if ((index as number) >= max) {
          throw tooMany(`runs[${this.index}].results`, max, 'results', 'SCAN_MAX_RESULTS_PER_RUN');
        }
        return SKIP;
      },
      end: (count) => (this.results = count),
    };
  }

  private toolHandler(toolPath: Path): StreamHandler {
    const seen = new Set<JsonKey>();
    return {
      child: (key, kind) => {
        const path = [...toolPath, key];
        if (key === 'driver') {
          once(seen, key, path);
          return expectContainer(kind, 'object', path, () =>
            this.stream(this.componentHandler(this.driver, path)),
          );
        }
        if (key === 'extensions') {
          once(seen, key, path);
          return expectContainer(kind, 'array', path, () =>
            this.stream({
              child: (index, extensionKind) => {
                spend(this.budget, 256);
                const extension = new Component();
                this.extensions.push(extension);
                const extensionPath = [...path, index];
                return expectContainer(extensionKind, 'object', extensionPath, () =>
                  this.stream(this.componentHandler(extension, extensionPath)),
                );
              },
            }),
          );
        }
        return SKIP;
      },
    };
  }

  private componentHandler(component: Component, componentPath: Path): StreamHandler {
    const seen = new Set<JsonKey>();
    return {
      child: (key, kind) => {
        const path = [...componentPath, key];
        switch (key) {
          case 'name':
          case 'version':
          case 'semanticVersion':
          case 'guid':
            return this.capture(PRIMITIVE, (value) => (component[key] = value));
          case 'rules':
            once(seen, key, path);
            return expectContainer(kind, 'array', path, () =>
              this.stream({
                child: (index, ruleKind) => {
                  const rulePath = [...path, index];
                  if (ruleKind !== 'object') throw invalidSarif(rulePath, 'must be an object');
                  return this.capture(RULE_SELECTION, (rule) => {
                    spend(this.budget, 512);
                    component.rules[index as number] = compactRule(rule as Json, rulePath);
                  });
                },
              }),
            );
          default:
            return SKIP;
        }
      },
    };
  }

  private artifactsHandler(artifactsPath: Path): StreamHandler {
    return {
      child: (index, kind) => {
        const path = [...artifactsPath, index];
        if (kind !== 'object') throw invalidSarif(path, 'must be an object');
        return this.capture(ARTIFACT_SELECTION, (artifact) => {
          spend(this.budget, 64);
          const location = objectAt(artifact as Json, 'location', path);
          this.artifacts[index as number] = {
            uri: stringOf(location?.uri) ?? null,
            uriBaseId: stringOf(location?.uriBaseId) ?? null,
          };
        });
      },
    };
  }

  finish(context: RunContextOverride): SarifRun {
    const path: Path = ['runs', this.index];
    const first: unknown = isList(this.provenance) ? this.provenance[0] : undefined;
    if (first !== undefined && !isObject(first)) {
      throw invalidSarif([...path, 'versionControlProvenance', 0], 'must be an object');
    }
    const provenance = first;
    const automation = isObject(this.automation) ? this.automation : undefined;
    const given = (value: string | undefined, max: number): string | null =>
      value === undefined ? null : cleanText(value, max);
    const run: RunContext = {
      index: this.index,
      tool: given(context.tool, TEXT_MAX.tool) ?? cleanText(this.driver.name, TEXT_MAX.tool),
      toolVersion:
        cleanText(this.driver.version, TEXT_MAX.toolVersion) ??
        cleanText(this.driver.semanticVersion, TEXT_MAX.toolVersion),
      repository:
        given(context.repository, TEXT_MAX.repository) ??
        cleanText(provenance?.repositoryUri, TEXT_MAX.repository),
      commit: given(context.commit, TEXT_MAX.commit) ?? cleanText(provenance?.revisionId, TEXT_MAX.commit),
      ref:
        given(context.ref, TEXT_MAX.ref) ??
        cleanText(provenance?.branch, TEXT_MAX.ref) ??
        cleanText(provenance?.revisionTag, TEXT_MAX.ref),
      automationId: cleanText(automation?.id, TEXT_MAX.other),
    };
    return new SarifRun(
      run,
      this.results,
      this.driver,
      this.extensions,
      this.artifacts,
      new UriBases(this.baseIds, [...path, 'originalUriBaseIds']),
    );
  }
}

type RunContextOverride = { tool?: string; repository?: string; commit?: string; ref?: string };

/** The first pass's view of `runs`: one RunHeader per run, the run limit checked as runs start. */
export class SarifOutline {
  private readonly headers: RunHeader[] = [];
  /** Shared by all runs: 20 runs of 32 MiB of rules would be 640 MiB. */
  private readonly budget: Budget = {
    remaining: RUN_HEADERS_MAX_BYTES,
    exceeded: () =>
      tooLarge(
        [],
        "The runs' tools, rules, artifacts and base URIs are",
        RUN_HEADERS_MAX_BYTES,
        'run_headers_bytes',
      ),
  };

  constructor(private readonly limits: UploadLimits) {}

  runsHandler(): StreamHandler {
    return {
      child: (index, kind) => {
        if ((index as number) >= this.limits.runs)
          throw tooMany('runs', this.limits.runs, 'runs', 'SCAN_MAX_RUNS');
        if (kind !== 'object') throw invalidSarif(['runs', index], 'must be an object');
        const header = new RunHeader(index as number, this.limits, this.budget);
        this.headers.push(header);
        return { type: 'stream', handler: header.handler() };
      },
    };
  }

  /** Each run with the query's context applied over what the run declares. */
  finish(context: RunContextOverride): SarifRun[] {
    return this.headers.map((header) => header.finish(context));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------------------

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

function withSlash(uri: string): string {
  return uri.endsWith('/') ? uri : `${uri}/`;
}

function decodePercent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A stray '%' is a character of the path, not an escape.
    return text;
  }
}

/** The path part of an absolute file: URI (`file:///C:/x` → `C:/x`); the URI itself if it does not parse. */
function filePath(uri: string): string {
  let pathname: string;
  try {
    pathname = new URL(uri).pathname;
  } catch {
    return uri;
  }
  const path = decodePercent(pathname);
  return /^\/[a-z]:\//i.test(path) ? path.slice(1) : path;
}

/**
 * A run's `originalUriBaseIds`, used only to turn artifact URIs into repository-relative paths: the outermost
 * absolute base (e.g. %SRCROOT% = file:///home/runner/work/repo/repo/) is taken as the repository root; a
 * relative base (`{ uri: 'src/', uriBaseId: 'SRCROOT' }`) adds its prefix; an unknown base adds nothing (the
 * URI is taken as relative to the root, as Flawfinder's SRCROOT without a declaration means).
 */
class UriBases {
  private readonly bases = new Map<string, ArtifactRef>();
  private readonly roots: string[] = [];

  constructor(raw: unknown, path: Path) {
    if (!isObject(raw)) return;
    for (const [name, base] of Object.entries(raw)) {
      if (!isObject(base)) throw invalidSarif([...path, name], 'must be an object');
      const uri = stringOf(base.uri) ?? null;
      this.bases.set(name, { uri, uriBaseId: stringOf(base.uriBaseId) ?? null });
      if (uri !== null && SCHEME.test(uri)) this.roots.push(withSlash(uri));
    }
  }

  /** An absolute URI relative to the outermost base it lies under; null if under none. */
  relativeToRoot(uri: string): string | null {
    let root: string | null = null;
    for (const candidate of this.roots) {
      if (uri.startsWith(candidate) && (root === null || candidate.length < root.length)) root = candidate;
    }
    return root === null ? null : uri.slice(root.length);
  }

  /** The repository-relative prefix a uriBaseId stands for ('' for the root or an unknown base). */
  prefix(uriBaseId: string | null, hops = 0): string {
    // A chain longer than this is a cycle (A → B → A) or nonsense; the URI is then taken as relative to the root.
    if (uriBaseId === null || hops > 8) return '';
    const base = this.bases.get(uriBaseId);
    if (base?.uri == null) return '';
    if (SCHEME.test(base.uri)) return this.relativeToRoot(withSlash(base.uri)) ?? '';
    return this.prefix(base.uriBaseId, hops + 1) + withSlash(base.uri);
  }
}

/** Trims what carries no meaning ('./' prefixes) and cleans; null for an empty path. */
function cleanPath(path: string): string | null {
  let clean = path;
  while (clean.startsWith('./')) clean = clean.slice(2);
  return cleanText(sanitizeText(clean), TEXT_MAX.path);
}

// ---------------------------------------------------------------------------------------------------------
// Pass 2: results
// ---------------------------------------------------------------------------------------------------------

const LOCATION_SELECTION: Selection = {
  fields: {
    physicalLocation: {
      fields: {
        artifactLocation: { fields: { uri: ALL, uriBaseId: ALL, index: ALL } },
        region: {
          fields: { startLine: ALL, endLine: ALL, startColumn: ALL, snippet: { fields: { text: ALL } } },
        },
      },
    },
  },
};

/** The parts of a result that Gatehouse reads; codeFlows, relatedLocations, stacks, fixes… are never built. */
const RESULT_SELECTION: Selection = {
  fields: {
    ruleId: ALL,
    ruleIndex: ALL,
    rule: {
      fields: { id: ALL, index: ALL, toolComponent: { fields: { index: ALL, name: ALL, guid: ALL } } },
    },
    kind: ALL,
    level: ALL,
    baselineState: ALL,
    message: { fields: { text: ALL, markdown: ALL, id: ALL, arguments: { items: ALL, max: 100 } } },
    locations: { items: LOCATION_SELECTION, max: 1 },
    fingerprints: ALL,
    partialFingerprints: ALL,
    properties: { fields: { 'security-severity': ALL, tags: { items: ALL, max: TAGS_MAX } } },
    suppressions: { items: { fields: { status: ALL } }, max: 100 },
  },
};

interface Located {
  location: MappedLocation | null;
  snippet: string | null;
  startLine: number | null;
}

/** A run as the second pass needs it: its context, rules, artifacts and base URIs. */
export class SarifRun {
  constructor(
    readonly context: RunContext,
    /** How many results the run has (skipped ones included). */
    readonly resultCount: number,
    private readonly driver: Component,
    private readonly extensions: readonly Component[],
    private readonly artifacts: readonly (ArtifactRef | undefined)[],
    private readonly bases: UriBases,
  ) {}

  /** The finding's tool: the run's, '' when none is named. */
  get tool(): string {
    return this.context.tool ?? '';
  }

  /** The rule a result points to (ruleIndex / rule.index in its tool component, else its id) and its id. */
  findRule(result: Json, path: Path): { rule: RuleInfo | null; id: string | null } {
    const reference = objectAt(result, 'rule', path);
    const component = this.componentOf(objectAt(reference, 'toolComponent', [...path, 'rule']));
    const index = indexOf(result.ruleIndex) ?? indexOf(reference?.index);
    let rule = index === undefined ? undefined : component.rules[index];
    const id = stringOf(result.ruleId) ?? stringOf(reference?.id);
    if (rule === undefined && id !== undefined) {
      rule =
        component.ruleById(id) ?? [this.driver, ...this.extensions].map((c) => c.ruleById(id)).find(Boolean);
    }
    return { rule: rule ?? null, id: id ?? rule?.id ?? null };
  }

  /** A toolComponentReference: by index into tool.extensions, else by name or guid; the driver by default. */
  private componentOf(reference: Json | undefined): Component {
    if (reference === undefined) return this.driver;
    const index = indexOf(reference.index);
    if (index !== undefined) return this.extensions[index] ?? this.driver;
    for (const key of ['guid', 'name'] as const) {
      const wanted = stringOf(reference[key]);
      if (wanted === undefined) continue;
      if (this.driver[key] === wanted) return this.driver;
      const extension = this.extensions.find((candidate) => candidate[key] === wanted);
      if (extension) return extension;
    }
    return this.driver;
  }

  /** `locations[0].physicalLocation`: its repository-relative path, lines and snippet. */
  locate(result: Json, path: Path): Located {
    const none: Located = { location: null, snippet: null, startLine: null };
    const locations = arrayAt(result, 'locations', path);
    if (locations === undefined || locations.length === 0) return none;
    const first = locations[0];
    const firstPath = [...path, 'locations', 0];
    if (!isObject(first)) throw invalidSarif(firstPath, 'must be an object');
    const physicalPath = [...firstPath, 'physicalLocation'];
    const physical = objectAt(first, 'physicalLocation', firstPath);
    if (physical === undefined) return none;
    const artifact = objectAt(physical, 'artifactLocation', physicalPath);
    const region = objectAt(physical, 'region', physicalPath);
    const snippet = stringOf(objectAt(region, 'snippet', [...physicalPath, 'region'])?.text) ?? null;
    const startLine = lineOf(region?.startLine) ?? null;

    let uri = stringOf(artifact?.uri) ?? null;
    let uriBaseId = stringOf(artifact?.uriBaseId) ?? null;
    const index = indexOf(artifact?.index);
    if (uri === null && index !== undefined) {
      const described = this.artifacts[index];
      if (described === undefined) {
        throw invalidSarif(
          [...physicalPath, 'artifactLocation', 'index'],
          `runs[${this.context.index}].artifacts has no artifact ${index}`,
        );
      }
      uri = described.uri;
      uriBaseId ??= described.uriBaseId;
    }
    const filePathOf = uri === null ? null : this.pathOf(uri, uriBaseId);
    if (filePathOf === null) return { location: null, snippet, startLine };

    const location: MappedLocation = { path: filePathOf };
    const endLine = lineOf(region?.endLine);
    const startColumn = lineOf(region?.startColumn);
    if (startLine !== null) location.start_line = startLine;
    if (endLine !== undefined) location.end_line = endLine;
    if (startColumn !== undefined) location.start_column = startColumn;
    return { location, snippet, startLine };
  }

  /** A URI as a repository-relative path where the base URIs allow; an absolute file: URI as its path. */
  pathOf(uri: string, uriBaseId: string | null): string | null {
    if (!SCHEME.test(uri)) return cleanPath(decodePercent(this.bases.prefix(uriBaseId) + uri));
    const relative = this.bases.relativeToRoot(uri);
    if (relative !== null) return cleanPath(decodePercent(relative));
    return cleanPath(/^file:/i.test(uri) ? filePath(uri) : uri);
  }
}

function isFailure(result: Json): boolean {
  return typeof result.kind !== 'string' || result.kind === 'fail';
}

function isSuppressed(result: Json, path: Path): boolean {
  const suppressions = arrayAt(result, 'suppressions', path);
  if (suppressions === undefined || suppressions.length === 0) return false;
  let inEffect = false;
  for (const [index, suppression] of suppressions.entries()) {
    if (!isObject(suppression)) throw invalidSarif([...path, 'suppressions', index], 'must be an object');
    const status = suppression.status;
    if (status === 'underReview' || status === 'rejected') return false;
    if (status === undefined || status === null || status === 'accepted') inEffect = true;
  }
  return inEffect;
}

/** `{0}` placeholders replaced by the arguments, `{{` and `}}` unescaped (SARIF §3.11.5). */
function substitute(template: string, args: readonly unknown[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)\}/g, (match: string, index?: string) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    const argument = args[Number(index)];
    return typeof argument === 'string' || typeof argument === 'number' || typeof argument === 'boolean'
      ? String(argument)
      : match;
  });
}

/** message.text, else message.markdown, else the rule's messageStrings[message.id], arguments substituted. */
function messageOf(result: Json, rule: RuleInfo | null, path: Path): string | null {
  const message = objectAt(result, 'message', path);
  if (message === undefined) return null;
  const args = arrayAt(message, 'arguments', [...path, 'message']) ?? [];
  let text = stringOf(message.text) ?? stringOf(message.markdown);
  let isTemplate = text !== undefined && args.length > 0;
  if (text === undefined) {
    const id = stringOf(message.id);
    text = id === undefined ? undefined : rule?.messageStrings.get(id);
    isTemplate = true;
  }
  if (text === undefined) return null;
  return cleanText(isTemplate ? substitute(text, args) : text, TEXT_MAX.description);
}

/** One result mapped to a finding; null when it is not one (see the top of this file). */
export function mapSarifResult(run: SarifRun, raw: unknown, resultIndex: number): MappedFinding | null {
  const path: Path = ['runs', run.context.index, 'results', resultIndex];
  if (!isObject(raw)) throw invalidSarif(path, 'must be an object');
  const result = raw;
  if (!isFailure(result) || isSuppressed(result, path) || result.baselineState === 'absent') return null;

  const { rule, id } = run.findRule(result, path);
  const ruleId = cleanText(id, TEXT_MAX.ruleId);
  if (ruleId === null) {
    const index = indexOf(result.ruleIndex) ?? indexOf(isObject(result.rule) ? result.rule.index : undefined);
    const hint = index === undefined ? '' : ` (its tool has no rule at index ${index})`;
    throw invalidSarif(
      path,
      `has no rule id: neither ruleId, rule.id nor a rule at ruleIndex names one${hint}`,
    );
  }
  const description = messageOf(result, rule, path);
  const { location, snippet, startLine } = run.locate(result, path);
  const properties = objectAt(result, 'properties', path);
  const decision = sarifSeverity({
    resultScore: properties?.['security-severity'],
    ruleScore: rule?.score,
    resultLevel: result.level,
    ruleLevel: rule?.level,
  });
  const tags = tagList(properties?.tags, [...(rule?.tags ?? [])]);
  const fingerprints = objectAt(result, 'fingerprints', path);
  const partialFingerprints = objectAt(result, 'partialFingerprints', path);
  const { identity, identitySource } = findingIdentity({
    tool: run.tool,
    ruleId,
    path: location?.path ?? null,
    fingerprints,
    partialFingerprints,
    snippet,
    startLine,
    message: description,
  });

  const metadata: Record<string, unknown> = { level: decision.level };
  if (decision.score !== null) metadata.security_severity = decision.score;
  if (rule?.precision) metadata.precision = rule.precision;
  if (typeof result.kind === 'string') metadata.kind = result.kind;

  return {
    runIndex: run.context.index,
    resultIndex,
    identity,
    identitySource,
    tool: run.tool,
    ruleId,
    title: rule?.title ?? rule?.name ?? cutText(firstLine(description) ?? ruleId, TEXT_MAX.title),
    description,
    severity: decision.severity,
    location,
    rule: {
      name: rule?.name ?? null,
      help: rule?.help ?? null,
      helpUri: rule?.helpUri ?? null,
      tags,
      cwe: cweIds([...(rule?.cwe ?? []), ...tags]),
    },
    metadata,
  };
}

/** The second pass's root: each run's results, captured one by one and mapped when the caller takes them. */
export function sarifResultsRoot(runs: readonly SarifRun[]): FindingsRoot {
  return (push) => {
    const resultsOf = (run: SarifRun): StreamHandler => ({
      child: (index) => {
        const resultIndex = index as number;
        return {
          type: 'capture',
          selection: RESULT_SELECTION,
          budget: {
            remaining: RESULT_MAX_BYTES,
            exceeded: () =>
              tooLarge(
                ['runs', run.context.index, 'results', resultIndex],
                'the parts of the result Gatehouse reads are',
                RESULT_MAX_BYTES,
                'result_bytes',
              ),
          },
          done: (raw) => push(() => mapSarifResult(run, raw, resultIndex)),
        };
      },
    });
    const runHandler = (run: SarifRun): StreamHandler => ({
      child: (key, kind) =>
        key === 'results' && kind === 'array' ? { type: 'stream', handler: resultsOf(run) } : SKIP,
    });
    const runsHandler: StreamHandler = {
      child: (index) => ({ type: 'stream', handler: runHandler(runs[index as number]) }),
    };
    return () => ({
      type: 'stream',
      handler: {
        child: (key, kind) =>
          key === 'runs' && kind === 'array' ? { type: 'stream', handler: runsHandler } : SKIP,
      },
    });
  };
}
