import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { isUtf8 } from 'node:buffer';
import { Tokenizer, TokenizerError, TokenType } from '@streamparser/json';
import { GatehouseError } from '@gatehouse/contracts';
import { SARIF_MEDIA_TYPE } from '../findings.constants';
import { decompressedChunks, type ContentCoding } from './decompress';
import { NativeOutline, nativeFindingsRoot, nativeRun } from './native-reader';
import { SarifOutline, invalidSarif, sarifResultsRoot } from './sarif-reader';
import type { MappedFinding, RunContext, UploadEvent, UploadFormat, UploadLimits } from './upload.types';

/**
 * Reads an upload (native JSON or SARIF 2.1.0, maybe gzip) into run contexts and mapped findings without ever
 * holding the document: the body is decompressed and tokenized chunk by chunk (@streamparser/json's Tokenizer),
 * and a small walker below keeps only the parts that are asked for, one result at a time.
 *
 * Why two passes: SARIF puts a run's `tool` (its rules), `versionControlProvenance`, `originalUriBaseIds` and
 * `artifacts` beside its `results`, and JSON does not order keys: a result can come before the rule it points
 * to. Keeping results until the run ends would hold the whole run, so the first pass reads everything except
 * results (which it only counts, without building them, so the run and result limits refuse an upload before
 * any finding exists), and the second pass reads only the results, mapping each with its run known.
 * Decompressing twice costs CPU (gunzip runs at several hundred MB/s); holding the document would cost memory
 * proportional to the upload, which is what the limits exist to prevent.
 *
 * Memory stays bounded by one chunk of results plus the runs' rule tables: every kept string is cut at
 * STRING_KEEP_BYTES while it is tokenized, every kept subtree is charged to a byte budget (a result, the runs'
 * headers), nesting is limited to MAX_DEPTH, and strings inside skipped subtrees are never even decoded.
 */

// ---------------------------------------------------------------------------------------------------------
// Media type
// ---------------------------------------------------------------------------------------------------------

export type UploadMediaType = 'application/json' | 'application/sarif+json';

/** Media type from a Content-Type header (parameters such as charset ignored, case-insensitive); else 415. */
export function parseUploadMediaType(header: string | undefined): UploadMediaType {
  const essence = (header ?? '').split(';')[0].trim().toLowerCase();
  if (essence === 'application/json' || essence === SARIF_MEDIA_TYPE) return essence;
  throw new GatehouseError(
    'unsupported_media_type',
    `Content-Type must be application/json or ${SARIF_MEDIA_TYPE}${header ? `, not "${header}"` : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// The streaming walker
// ---------------------------------------------------------------------------------------------------------

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';
export type JsonKey = string | number;

/**
 * Which parts of a subtree to build: `all` of it, only some `fields` of an object, or the first `max` `items`
 * of an array (each built with `items`). A value of another kind than the selection expects is kept as an empty
 * object or array, so the mapper can say "must be an array" instead of reading garbage.
 */
export type Selection =
  | { readonly all: true }
  | { readonly fields: Readonly<Record<string, Selection>> }
  | { readonly items: Selection; readonly max: number };

/** Bytes (roughly, see charge) that captures may still keep; shared by the captures given the same budget. */
export interface Budget {
  remaining: number;
  /** The error to throw once the budget is spent, naming the limit and where. */
  readonly exceeded: () => GatehouseError;
}

/** What to do with a value when it starts. */
export type Visit =
  | { readonly type: 'skip' }
  | {
      readonly type: 'capture';
      readonly selection: Selection;
      readonly budget: Budget;
      readonly done: (value: unknown) => void;
    }
  | { readonly type: 'stream'; readonly handler: StreamHandler };

/** Walks a container without building it, deciding for each child. */
export interface StreamHandler {
  child(key: JsonKey, kind: JsonKind): Visit;
  /** The container closed after `count` children. */
  end?(count: number): void;
}

const SKIP: Visit = { type: 'skip' };

/** Nesting deeper than this is refused: real reports nest ~15 levels, and each level costs the walker a frame. */
export const MAX_DEPTH = 128;
/** Longest string kept whole; longer ones are cut here while tokenized (nothing Gatehouse keeps is longer). */
export const STRING_KEEP_BYTES = 64 * 1024;
/** Longest number kept; a longer one is nonsense (beyond a double's precision either way). */
const NUMBER_KEEP_BYTES = 1024;

class InvalidUtf8Error extends Error {}

/**
 * The Tokenizer's accumulator for strings and numbers (its `StringBuilder`), replaced so that one huge string
 * (a 200 MiB message compresses to 200 KiB) costs at most `capacity` bytes: bytes past it are counted, since
 * the tokenizer computes offsets from byteLength, and validated as UTF-8, but not kept. Lone surrogates from
 * `\ud800` escapes arrive through appendCharCode and are stored as U+FFFD right away.
 */
class CappedText {
  byteLength = 0;
  /**
   * Set by the walker inside skipped subtrees: the string is tokenized and validated, neither kept nor decoded.
   * It never changes in the middle of a string, since the walker only moves between tokens.
   */
  discard = false;
  private kept = 0;
  /** Once a byte is dropped nothing after it is kept either, so the kept prefix never has a hole. */
  private full = false;
  private readonly buffer: Buffer;

  constructor(capacity: number) {
    this.buffer = Buffer.alloc(capacity);
  }

  appendChar(char: number): void {
    this.byteLength += 1;
    if (this.full || this.discard) return;
    if (this.kept < this.buffer.length) this.buffer[this.kept++] = char;
    else this.full = true;
  }

  appendBuf(buf: Uint8Array, start = 0, end = buf.length): void {
    this.byteLength += end - start;
    // The tokenizer hands over ASCII runs and runs of whole multi-byte characters; only the latter can be
    // invalid (a Latin-1 byte, a truncated sequence that would swallow the closing quote).
    if (buf[start] >= 0x80 && !isUtf8(buf.subarray(start, end))) throw new InvalidUtf8Error();
    this.keep(buf, start, end);
  }

  appendCharCode(): void {
    this.keep(REPLACEMENT_UTF8, 0, REPLACEMENT_UTF8.length);
  }

  reset(): void {
    this.byteLength = 0;
    this.kept = 0;
    this.full = false;
  }

  toString(): string {
    // Buffer's decoder: twice as fast as TextDecoder on short strings, keeps a leading U+FEFF, and what it
    // decodes was validated on the way in.
    return this.discard ? '' : this.buffer.toString('utf8', 0, this.kept);
  }

  private keep(buf: Uint8Array, start: number, end: number): void {
    if (this.full || this.discard) return;
    const room = this.buffer.length - this.kept;
    let cut = end;
    if (end - start > room) {
      cut = start + room;
      // Back to the start of the character being cut, so that the kept prefix is valid UTF-8.
      while (cut > start && (buf[cut] & 0xc0) === 0x80) cut -= 1;
      this.full = true;
    }
    this.buffer.set(buf.subarray(start, cut), this.kept);
    this.kept += cut - start;
  }
}

const REPLACEMENT_UTF8 = new Uint8Array([0xef, 0xbf, 0xbd]);

/** The Tokenizer keeps its accumulators in these (TypeScript-private) fields; checked, so an upgrade that renames them fails loudly. */
interface TokenizerAccumulators {
  bufferedString: unknown;
  bufferedNumber: unknown;
}

function capTokenizer(tokenizer: Tokenizer, text: CappedText): void {
  const fields = tokenizer as unknown as TokenizerAccumulators;
  if (!('bufferedString' in fields) || !('bufferedNumber' in fields)) {
    throw new Error('@streamparser/json changed: its Tokenizer has no bufferedString/bufferedNumber to cap');
  }
  fields.bufferedString = text;
  fields.bufferedNumber = new CappedText(NUMBER_KEEP_BYTES);
}

// Grammar states of a container frame.
const EXPECT_VALUE = 0;
const EXPECT_VALUE_OR_END = 1;
const EXPECT_KEY = 2;
const EXPECT_KEY_OR_END = 3;
const EXPECT_COLON = 4;
const EXPECT_COMMA_OR_END = 5;

// What a frame does with its children.
const SKIPPING = 0;
const STREAMING = 1;
const BUILDING = 2;

type Container = Record<string, unknown> | unknown[];

interface Frame {
  isArray: boolean;
  state: number;
  /** The current member's key, or the current item's index. */
  key: JsonKey;
  count: number;
  mode: number;
  handler: StreamHandler | null;
  /** The container being built (BUILDING), or kept empty for a capture of the wrong kind (SKIPPING). */
  container: Container | null;
  selection: Selection | null;
  budget: Budget | null;
  /** Set on the frame a capture started at. */
  done: ((value: unknown) => void) | null;
}

function malformed(problem: string, offset?: number): GatehouseError {
  const where = offset === undefined ? '' : ` at byte ${offset}`;
  return new GatehouseError(
    'malformed_json',
    `Request body is not valid JSON: ${problem}${where}`,
    offset === undefined ? undefined : { offset },
  );
}

// The token types as plain numbers: TokenType is re-exported through a getter, too slow to read per token.
const LEFT_BRACE: number = TokenType.LEFT_BRACE;
const RIGHT_BRACE: number = TokenType.RIGHT_BRACE;
const LEFT_BRACKET: number = TokenType.LEFT_BRACKET;
const RIGHT_BRACKET: number = TokenType.RIGHT_BRACKET;
const COLON: number = TokenType.COLON;
const COMMA: number = TokenType.COMMA;
const STRING: number = TokenType.STRING;
const NUMBER: number = TokenType.NUMBER;
const TRUE: number = TokenType.TRUE;
const FALSE: number = TokenType.FALSE;
const NULL: number = TokenType.NULL;

function kindOf(token: number): JsonKind | null {
  if (token === STRING) return 'string';
  if (token === LEFT_BRACE) return 'object';
  if (token === LEFT_BRACKET) return 'array';
  if (token === NUMBER) return 'number';
  if (token === TRUE || token === FALSE) return 'boolean';
  if (token === NULL) return 'null';
  return null;
}

function describe(token: number, value: unknown): string {
  return token === STRING ? 'string' : `"${String(value)}"`;
}

function childSelection(selection: Selection, key: JsonKey): Selection | null {
  if ('all' in selection) return selection;
  if ('fields' in selection) {
    return typeof key === 'string' && Object.hasOwn(selection.fields, key) ? selection.fields[key] : null;
  }
  return typeof key === 'number' && key < selection.max ? selection.items : null;
}

function accepts(selection: Selection, kind: 'object' | 'array'): boolean {
  return 'all' in selection || ('fields' in selection ? kind === 'object' : kind === 'array');
}

/** Roughly what V8 spends on the value: a one-byte string's length plus a header, an empty object or array's size. */
function charge(budget: Budget, value: unknown): void {
  budget.remaining -=
    typeof value === 'string' ? value.length + 16 : value !== null && typeof value === 'object' ? 48 : 16;
  if (budget.remaining < 0) throw budget.exceeded();
}

function attach(parent: Container, key: JsonKey, value: unknown): void {
  if (Array.isArray(parent)) parent.push(value);
  // `__proto__` as a key must become an own property, as JSON.parse makes it, not a prototype.
  else if (key === '__proto__')
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true });
  else parent[key as string] = value;
}

/**
 * A validating JSON walker over the Tokenizer's tokens: checks the grammar itself (the Tokenizer only lexes)
 * and, guided by Visits, streams, skips or builds each value. Errors are GatehouseErrors: malformed_json with
 * the byte offset, or whatever a handler throws.
 */
export class JsonWalker {
  private readonly tokenizer = new Tokenizer();
  private readonly text = new CappedText(STRING_KEEP_BYTES);
  private readonly frames: Frame[] = [];
  private rootState: 'before' | 'inside' | 'after' = 'before';
  private bytesIn = 0;

  constructor(private readonly root: (kind: JsonKind) => Visit) {
    capTokenizer(this.tokenizer, this.text);
    this.tokenizer.onToken = ({ token, value, offset }) => this.onToken(token, value, offset);
  }

  write(chunk: Uint8Array): void {
    try {
      this.tokenizer.write(chunk);
    } catch (error) {
      throw this.translate(error, chunk.length);
    }
    this.bytesIn += chunk.length;
  }

  end(): void {
    if (this.bytesIn === 0) throw malformed('the body is empty');
    try {
      this.tokenizer.end();
    } catch (error) {
      throw this.translate(error, 0);
    }
    if (this.rootState === 'before') throw malformed('the body holds no JSON value');
    if (this.rootState === 'inside') throw malformed('the body ends before the JSON value is complete');
  }

  /** The Tokenizer's errors as malformed_json; `chunkLength`: of the chunk being written when it failed. */
  private translate(error: unknown, chunkLength: number): unknown {
    if (error instanceof GatehouseError) return error;
    if (error instanceof InvalidUtf8Error) {
      // The accumulator does not know where it is: the chunk is as precise as it gets.
      const range = `bytes ${this.bytesIn} to ${this.bytesIn + chunkLength}`;
      return new GatehouseError('malformed_json', `Request body is not valid UTF-8 (within ${range})`, {
        offset: this.bytesIn,
      });
    }
    if (error instanceof TokenizerError) {
      const position = /absolute position "(\d+)"/.exec(error.message);
      if (position) {
        const unexpected = /Unexpected "(.*)" at chunk/s.exec(error.message)?.[1] ?? '';
        return malformed(`unexpected ${JSON.stringify(unexpected)}`, Number(position[1]));
      }
      return malformed('the body ends in the middle of a value');
    }
    // Anything else is a bug of ours: let it surface as it is (an internal error with its stack).
    return error;
  }

  private top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  private onToken(token: number, value: unknown, offset: number): void {
    const frame = this.top();
    if (frame === undefined) {
      if (this.rootState !== 'before') {
        throw malformed(`unexpected ${describe(token, value)} after the JSON value`, offset);
      }
      this.startValue(undefined, token, value, offset);
      return;
    }
    switch (frame.state) {
      case EXPECT_KEY_OR_END:
      case EXPECT_KEY:
        if (token === STRING) {
          frame.key = value as string;
          frame.state = EXPECT_COLON;
          return;
        }
        if (token === RIGHT_BRACE && frame.state === EXPECT_KEY_OR_END) return this.close(frame);
        break;
      case EXPECT_COLON:
        if (token === COLON) {
          frame.state = EXPECT_VALUE;
          return;
        }
        break;
      case EXPECT_VALUE_OR_END:
      case EXPECT_VALUE:
        if (token === RIGHT_BRACKET && frame.state === EXPECT_VALUE_OR_END) return this.close(frame);
        if (kindOf(token) !== null) {
          frame.state = EXPECT_COMMA_OR_END;
          this.startValue(frame, token, value, offset);
          return;
        }
        break;
      default: // EXPECT_COMMA_OR_END
        if (token === COMMA) {
          frame.state = frame.isArray ? EXPECT_VALUE : EXPECT_KEY;
          if (frame.isArray) frame.key = frame.count;
          return;
        }
        if (token === (frame.isArray ? RIGHT_BRACKET : RIGHT_BRACE)) return this.close(frame);
    }
    throw malformed(`unexpected ${describe(token, value)}`, offset);
  }

  /** A value starts: decides, from its parent (or the root), whether it is skipped, streamed or built. */
  private startValue(parent: Frame | undefined, token: number, value: unknown, offset: number): void {
    const kind = kindOf(token);
    if (kind === null) throw malformed(`unexpected ${describe(token, value)}`, offset);
    const isArray = kind === 'array';
    const isContainer = isArray || kind === 'object';
    if (parent === undefined) this.rootState = isContainer ? 'inside' : 'after';
    else parent.count += 1;
    const key = parent ? parent.key : '';

    if (parent?.mode === SKIPPING) {
      if (isContainer) this.push(isArray, SKIPPING, offset);
      return;
    }

    if (parent?.mode === BUILDING) {
      const selection = childSelection(parent.selection as Selection, key);
      if (selection === null) {
        if (isContainer) this.push(isArray, SKIPPING, offset);
        return;
      }
      const budget = parent.budget as Budget;
      if (typeof key === 'string') charge(budget, key);
      const child = isContainer ? (isArray ? [] : {}) : value;
      charge(budget, child);
      attach(parent.container as Container, key, child);
      if (isContainer) {
        const mode = accepts(selection, kind) ? BUILDING : SKIPPING;
        this.push(isArray, mode, offset, { container: child as Container, selection, budget });
      }
      return;
    }

    const visit = parent === undefined ? this.root(kind) : (parent.handler as StreamHandler).child(key, kind);
    switch (visit.type) {
      case 'skip':
        if (isContainer) this.push(isArray, SKIPPING, offset);
        return;
      case 'stream':
        // A handler streams containers only; a primitive where it expected one is its to refuse, in child().
        if (isContainer) this.push(isArray, STREAMING, offset, { handler: visit.handler });
        return;
      case 'capture': {
        const child = isContainer ? (isArray ? [] : {}) : value;
        charge(visit.budget, child);
        if (!isContainer) {
          visit.done(child);
          return;
        }
        const { selection, budget, done } = visit;
        const mode = accepts(selection, kind) ? BUILDING : SKIPPING;
        this.push(isArray, mode, offset, { container: child as Container, selection, budget, done });
      }
    }
  }

  private push(
    isArray: boolean,
    mode: number,
    offset: number,
    parts: Partial<Pick<Frame, 'handler' | 'container' | 'selection' | 'budget' | 'done'>> = {},
  ): void {
    if (this.frames.length >= MAX_DEPTH) {
      // The suite answers nesting past its limit with validation_failed on every route (safe-input.ts): valid JSON,
      // refused by a rule. Uploads get a deeper limit of their own, as SARIF property bags nest.
      throw new GatehouseError(
        'validation_failed',
        `Request body is nested deeper than ${MAX_DEPTH} levels (at byte ${offset})`,
        { offset },
      );
    }
    this.frames.push({
      isArray,
      state: isArray ? EXPECT_VALUE_OR_END : EXPECT_KEY_OR_END,
      key: isArray ? 0 : '',
      count: 0,
      mode,
      handler: parts.handler ?? null,
      container: parts.container ?? null,
      selection: parts.selection ?? null,
      budget: parts.budget ?? null,
      done: parts.done ?? null,
    });
    this.text.discard = mode === SKIPPING;
  }

  private close(frame: Frame): void {
    this.frames.pop();
    const parent = this.top();
    this.text.discard = parent?.mode === SKIPPING;
    if (parent === undefined) this.rootState = 'after';
    frame.handler?.end?.(frame.count);
    frame.done?.(frame.container);
  }
}

/**
 * How long reading may hold the event loop before it lets other work run. Decompressed chunks that are already
 * buffered arrive as promise continuations, which never give way to I/O: without this pause a large upload held
 * findings-service's other requests for tens of milliseconds at a time, once per round trip they made.
 */
export const READ_SLICE_MS = 4;

/** Feeds the decompressed body through a walker to its end, pausing (yielding) after each chunk. */
async function* walkChunks(
  body: Buffer,
  options: UploadReaderOptions,
  walker: JsonWalker,
): AsyncGenerator<void> {
  let sliceStart = performance.now();
  for await (const chunk of decompressedChunks(body, options.coding, options.limits.decompressedBytes)) {
    walker.write(chunk);
    yield;
    if (performance.now() - sliceStart >= READ_SLICE_MS) {
      if (options.deadline !== undefined && performance.now() > options.deadline) {
        const seconds = options.limits.processingSeconds ?? 0;
        throw new GatehouseError(
          'limit_exceeded',
          `Reading the upload took longer than SCAN_MAX_PROCESSING_SECONDS (${seconds} s)`,
          { limit: 'SCAN_MAX_PROCESSING_SECONDS', max: seconds },
        );
      }
      await nextMacrotask();
      sliceStart = performance.now();
    }
  }
  walker.end();
}

// ---------------------------------------------------------------------------------------------------------
// The two passes
// ---------------------------------------------------------------------------------------------------------

export interface UploadReaderOptions {
  mediaType: UploadMediaType;
  coding: ContentCoding;
  limits: UploadLimits;
  /** The query's context; each given (non-empty) field overrides what the SARIF declares, for every run. */
  context: { tool?: string; repository?: string; commit?: string; ref?: string };
  /** `performance.now()` after which reading stops with 422 (set by readUpload from limits.processingSeconds). */
  deadline?: number;
}

/** An upload after its first pass: what it is, its runs, and its findings to be read (once). */
export interface OpenedUpload {
  readonly format: UploadFormat;
  /** Every run's context, in order; for native, one run. */
  readonly runs: RunContext[];
  /** The second pass: every finding, in document order, read as the caller consumes them. Call once. */
  findings(): AsyncIterable<MappedFinding>;
}

const ACCEPTED_DOCUMENTS =
  'a SARIF 2.1.0 log ({"version": "2.1.0", "runs": [...]}) or native findings ({"findings": [...]})';

/** What the first pass learns of the top level of the document. */
class DocumentOutline {
  private hasRuns = false;
  private hasFindings = false;
  /** The first few other top-level keys, which the native format refuses (by name); never all of them. */
  readonly otherKeys: string[] = [];
  version: unknown = undefined;
  runsKind: JsonKind | null = null;
  readonly sarif: SarifOutline;
  readonly native: NativeOutline;

  constructor(private readonly options: UploadReaderOptions) {
    this.sarif = new SarifOutline(options.limits);
    this.native = new NativeOutline();
  }

  root(kind: JsonKind): Visit {
    if (kind !== 'object') throw this.notADocument();
    return { type: 'stream', handler: { child: (key, childKind) => this.member(key as string, childKind) } };
  }

  private member(key: string, kind: JsonKind): Visit {
    switch (key) {
      case 'version':
        return {
          type: 'capture',
          selection: { fields: {} },
          budget: { remaining: 1024, exceeded: () => invalidSarif(['version'], 'must be "2.1.0"') },
          done: (value) => (this.version = value),
        };
      case 'runs':
        if (this.hasRuns) throw invalidSarif(['runs'], 'appears twice');
        this.hasRuns = true;
        this.runsKind = kind;
        return kind === 'array' ? { type: 'stream', handler: this.sarif.runsHandler() } : SKIP;
      case 'findings':
        this.hasFindings = true;
        return this.native.findingsVisit(kind);
      default:
        if (this.otherKeys.length < 10 && !this.otherKeys.includes(key)) this.otherKeys.push(key);
        return SKIP;
    }
  }

  private notADocument(): GatehouseError {
    return this.options.mediaType === SARIF_MEDIA_TYPE
      ? invalidSarif([], 'must be a JSON object')
      : new GatehouseError('validation_failed', `The body must be ${ACCEPTED_DOCUMENTS}`);
  }

  /** Which format the document is, refusing what is neither (or a SARIF of another version). */
  format(): UploadFormat {
    const isSarif = this.options.mediaType === SARIF_MEDIA_TYPE || this.hasRuns || this.version === '2.1.0';
    if (!isSarif) {
      if (this.hasFindings) return 'native';
      throw new GatehouseError('validation_failed', `The body must be ${ACCEPTED_DOCUMENTS}`);
    }
    if (this.version !== '2.1.0') {
      const given = this.version === undefined ? 'it has none' : `not ${JSON.stringify(this.version)}`;
      throw invalidSarif(['version'], `must be "2.1.0" (the only SARIF version accepted), ${given}`);
    }
    if (this.runsKind === null) throw invalidSarif(['runs'], 'is missing');
    if (this.runsKind !== 'array') throw invalidSarif(['runs'], 'must be an array');
    return 'sarif';
  }
}

/**
 * Reads the upload's first pass (format, runs, limits) and returns its findings to be read in a second pass.
 * Every refusal of the document as a whole (415, 413, 422, 400 malformed_json, invalid_sarif of a run's
 * header, validation_failed of the native shape) is thrown here, before any finding exists; a malformed result
 * or native item is thrown while iterating findings.
 */
export async function openUpload(body: Buffer, optionsAsGiven: UploadReaderOptions): Promise<OpenedUpload> {
  const seconds = optionsAsGiven.limits.processingSeconds;
  // One deadline for both passes, from the start of the first.
  const options: UploadReaderOptions =
    seconds === undefined || optionsAsGiven.deadline !== undefined
      ? optionsAsGiven
      : { ...optionsAsGiven, deadline: performance.now() + seconds * 1000 };
  const outline = new DocumentOutline(options);
  for await (const _ of walkChunks(body, options, new JsonWalker((kind) => outline.root(kind)))) {
    // Nothing to do between chunks: the outline collects as the walker goes.
  }
  const format = outline.format();
  const context = cleanContext(options.context);
  if (format === 'native') {
    outline.native.check(outline.otherKeys, options.limits);
    const run = nativeRun(context);
    return { format, runs: [run], findings: () => readFindings(body, options, nativeFindingsRoot(run)) };
  }
  const runs = outline.sarif.finish(context);
  return {
    format,
    runs: runs.map((run) => run.context),
    findings: () => readFindings(body, options, sarifResultsRoot(runs)),
  };
}

/** A second pass's root: captures each result or item and hands it over, to be mapped when its turn comes. */
export type FindingsRoot = (push: (finding: PendingFinding) => void) => (kind: JsonKind) => Visit;

/** A result or native item as captured, mapped when the caller asks for it (null: skipped, e.g. kind 'pass'). */
export type PendingFinding = () => MappedFinding | null;

async function* readFindings(
  body: Buffer,
  options: UploadReaderOptions,
  root: FindingsRoot,
): AsyncGenerator<MappedFinding> {
  // Results captured from one chunk wait here; the next chunk is read only once they have been consumed, so the
  // caller's pace (it awaits its database between batches) is the pace of decompression and parsing.
  let pending: PendingFinding[] = [];
  const walker = new JsonWalker(root((finding) => pending.push(finding)));
  for await (const _ of walkChunks(body, options, walker)) {
    const ready = pending;
    pending = [];
    for (const map of ready) {
      const finding = map();
      if (finding) yield finding;
    }
  }
  for (const map of pending) {
    const finding = map();
    if (finding) yield finding;
  }
}

type UploadContext = UploadReaderOptions['context'];

function cleanContext(context: UploadContext): UploadContext {
  const clean: UploadContext = {};
  for (const key of ['tool', 'repository', 'commit', 'ref'] as const) {
    const value = context[key]?.trim();
    if (value) clean[key] = value;
  }
  return clean;
}

// ---------------------------------------------------------------------------------------------------------
// The event-stream shape
// ---------------------------------------------------------------------------------------------------------

export interface UploadReader {
  /** Known once the first pass is done (before any event is yielded). */
  readonly format: UploadFormat;
  /** Every run's context, in order; for native, one run. Complete before the first event is yielded. */
  readonly runs: RunContext[];
}

/**
 * The same as openUpload as one stream of events: the run events, then the findings. `reader` answers once
 * the first event has been yielded (or the stream ended); before that it throws.
 */
export function readUpload(
  body: Buffer,
  options: UploadReaderOptions,
): { reader: UploadReader; events: AsyncIterable<UploadEvent> } {
  let opened: OpenedUpload | null = null;
  const ready = (): OpenedUpload => {
    if (opened === null) {
      throw new GatehouseError('internal_error', 'The upload is known only once its events are being read');
    }
    return opened;
  };
  const reader: UploadReader = {
    get format() {
      return ready().format;
    },
    get runs() {
      return ready().runs;
    },
  };
  async function* events(): AsyncGenerator<UploadEvent> {
    const upload = await openUpload(body, options);
    opened = upload;
    for (const run of upload.runs) yield { kind: 'run', run };
    for await (const finding of upload.findings()) yield { kind: 'finding', finding };
  }
  return { reader, events: events() };
}
