/**
 * Where SAE training gets its activations (SAELens' ActivationsStore): a stream of shuffled activation rows
 * [rows, dIn] read from one hook point of a model, either computed on the fly (ModelActivationStore) or read from
 * an on-disk cache written once by writeActivationCache (CachedActivationStore).
 *
 * Data order. The underlying data is read in a seeded order, one epoch at a time: for a model, a permutation of all
 * sequences of all given TokenSequences (every position of a sequence gives one row); for a cache, a permutation
 * of its shards (rows inside a shard are read in file order; the writer already put the sequences in a seeded
 * random order). Epoch e (0-based) uses the permutation drawn from `new Rng(seed).fork(e)`, so any position of
 * the order can be reached directly (`startSequence` / `startRow` for resuming).
 *
 * Shuffle buffer. As SAELens' mixing buffer: the buffer (bufferRows rows) is filled to capacity, shuffled
 * (Fisher–Yates with a seeded Rng), its first half is served in order, that half is refilled with fresh rows and
 * the whole buffer is reshuffled, and so on; rows from hundreds of sequences are mixed in every batch. Rows are
 * never moved inside the buffer: a permutation of its slots is shuffled instead (the same distribution as
 * shuffling the rows, at a fraction of the memory traffic), so each row is copied once in and once out.
 * Epochs are kept apart: when an epoch's data runs out the buffer is not topped up from the next epoch but served
 * to the end (shuffled), so every epoch serves each row exactly once and `epoch` is exact. With data larger than
 * the buffer this changes only the last buffer of each epoch.
 *
 * Resuming. `snapshot()` captures the stream exactly (the unserved buffer rows, the buffer's Rng, the read position
 * and the partly used chunk) and `restore()` on a store of the same data and seed continues it bit-for-bit: what a
 * checkpoint keeps. Without a snapshot, `startSequence` (model) and `startRow` (cache) restart the data order at a
 * given position: a resumed run that passes `sequencesRead` / `rowsRead` skips the rows that were in the buffer but
 * not yet served (at most bufferRows rows) and reshuffles from there. Epoch numbers count from the start of the
 * order, so a store started at sequence 2·N (N sequences) reports epoch 3.
 */
import fs from "node:fs";
import { join } from "node:path";
import { Tape } from "../core/autograd.js";
import { firstNonFinite } from "../core/finite.js";
import { Rng, type RngState } from "../core/rng.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import {
  bfloat16BitsToFloat32Array,
  float16BitsToFloat32Array,
  openSafetensors,
  saveSafetensors,
  SafetensorsError,
} from "../io/safetensors.js";
import { sequenceCount, type TokenSequences } from "../model/baselines.js";
import type { ModelConfig } from "../model/config.js";
import { HookedTransformer } from "../model/transformer.js";

// ---------------------------------------------------------------------------------------------
// Public types

/** A stream of shuffled activation rows [rows, dIn] (Float32). */
export interface ActivationSource {
  readonly dIn: number;
  readonly hookName: string;
  /** Fills `out` (rows·dIn floats) with the next `rows` shuffled activation rows. Never returns fewer rows: cycles the data (epochs) as needed. */
  next(rows: number, out?: Float32Array): Float32Array;
  /** Activation rows served so far. */
  readonly served: number;
  /** Epochs over the underlying data started so far (≥ 1 after the first row). */
  readonly epoch: number;
  /**
   * Where a resumed stream should start (startSequence / startRow of a new store): the data read so far, which
   * runs ahead of `served` by the buffered rows. Sources without a buffer may omit it (then `served` is used).
   */
  readonly resumePosition?: number;
  /** The exact stream state (buffered sources): restore() on a fresh source of the same data and seed continues it. */
  snapshot?(): StreamSnapshot;
  restore?(snapshot: StreamSnapshot): void;
}

/** A buffered stream's exact state: `rows` are the buffered, not yet served rows [rows.length / dIn, dIn]. */
export interface StreamSnapshot {
  state: ShuffleBufferState;
  rows: Float32Array;
}

/** The JSON part of a StreamSnapshot (see ShuffleBuffer.snapshot). */
export interface ShuffleBufferState {
  version: 1;
  dIn: number;
  capacity: number;
  served: number;
  servedEpoch: number;
  bufferEpoch: number;
  exhausted: boolean;
  /** Buffered rows (= rows.length / dIn); the first `serveAhead` of them are served next, in order. */
  held: number;
  serveAhead: number;
  rng: RngState;
  /** The source's read position. */
  position: number;
  /** The chunk being copied into the buffer: its start position and the rows of it already copied. */
  pending: { start: number; row: number } | null;
}

/** A bad hook point, bad data, a non-finite activation, or a missing / malformed activation cache. */
export class ActivationError extends Error {
  override name = "ActivationError";
}

export const DEFAULT_FORWARD_BATCH = 32;
/** 2^17 rows: 256 MB of float32 at dIn = 512. */
export const DEFAULT_BUFFER_ROWS = 131072;
export const DEFAULT_SHARD_ROWS = 65536;
export const DEFAULT_NORM_ESTIMATE_ROWS = 32768;
export const ACTIVATION_CACHE_MANIFEST = "manifest.json";
/** The tensor each cache shard holds, [rows, dIn]. */
export const ACTIVATION_TENSOR = "activations";
export type ActivationDtype = "F32" | "F16" | "BF16";
const ACTIVATION_DTYPES: readonly string[] = ["F32", "F16", "BF16"];

/** The file name of cache shard `index` (acts-00000.safetensors, …). */
export function activationShardName(index: number): string {
  return `acts-${String(index).padStart(5, "0")}.safetensors`;
}
const SHARD_FILE_PATTERN = /^acts-\d{5,}\.safetensors$/;

// ---------------------------------------------------------------------------------------------
// Hook points

/** Hook points whose activation is not one row per token ([batch, heads, seq, seq]). */
const NOT_PER_TOKEN = /\.hook_(attn_scores|pattern)$/;

/**
 * The width of one row of `hookName`'s activation (one row per token), or an ActivationError naming the hook point
 * and listing the valid ones when the model has no such hook point or it is not one row per token.
 */
export function hookActivationWidth(cfg: ModelConfig, hookName: string): number {
  const names = HookedTransformer.hookNames(cfg);
  if (!names.includes(hookName)) {
    throw new ActivationError(
      `unknown hook point "${hookName}" for this model. Valid hook points: ` +
        names.filter((n) => !NOT_PER_TOKEN.test(n)).join(", "),
    );
  }
  if (NOT_PER_TOKEN.test(hookName)) {
    throw new ActivationError(
      `hook point "${hookName}" is [batch, n_heads, seq, seq], not one row per token: an SAE cannot be trained on it`,
    );
  }
  if (/\.hook_scale$/.test(hookName)) return 1;
  if (/\.mlp\.hook_(pre|post)$/.test(hookName)) return cfg.d_mlp;
  if (/\.attn\.hook_[qkvz]$/.test(hookName)) return cfg.n_heads * cfg.d_head;
  return cfg.d_model;
}

// ---------------------------------------------------------------------------------------------
// Chunked sources and the shuffle buffer (internal)

/** A run of consecutive rows of the data order, all from one epoch. Valid until the next pull. */
interface Chunk {
  data: Float32Array;
  rows: number;
  /** 1-based epoch of these rows. */
  epoch: number;
  /** True when these are the epoch's last rows. */
  endOfEpoch: boolean;
}

interface ChunkSource {
  pull(): Chunk;
  /** Position in the data order of the next pull (settable: pulls are a pure function of the position). */
  position: number;
}

function checkPositiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new ActivationError(`${what} must be a positive integer, got ${value}`);
}

function checkNonNegativeInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ActivationError(`${what} must be a non-negative integer, got ${value}`);
  }
}

/** The SAELens-style mixing buffer over a ChunkSource (see the module comment). */
class ShuffleBuffer {
  private readonly dIn: number;
  private readonly capacity: number;
  private rng: Rng;
  private readonly source: ChunkSource;
  private buffer: Float32Array | null = null; // allocated on the first fill
  /** Slot indices: order[0, live) hold rows; order[cursor, serveEnd) are served next. */
  private order: Int32Array;
  private scratch: Int32Array;
  private live = 0;
  private cursor = 0;
  private serveEnd = 0;
  private pending: Chunk | null = null;
  private pendingStart = 0;
  private pendingRow = 0;
  /** The current epoch's data is used up: serve the buffer to the end before reading on. */
  private exhausted = false;
  private bufferEpoch = 0;
  served = 0;
  servedEpoch = 0;

  constructor(dIn: number, capacity: number, rng: Rng, source: ChunkSource) {
    this.dIn = dIn;
    this.capacity = capacity;
    this.rng = rng;
    this.source = source;
    this.order = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.order[i] = i;
    this.scratch = new Int32Array(capacity);
  }

  next(rows: number, out?: Float32Array): Float32Array {
    checkPositiveInteger("next: rows", rows);
    const dIn = this.dIn;
    const need = rows * dIn;
    if (out === undefined) out = new Float32Array(need);
    else if (out.length < need) {
      throw new ActivationError(`next: out has ${out.length} floats, needs rows·dIn = ${rows}·${dIn} = ${need}`);
    }
    let done = 0;
    while (done < rows) {
      if (this.cursor === this.serveEnd) this.refill();
      const buffer = this.buffer!;
      const order = this.order;
      const n = Math.min(rows - done, this.serveEnd - this.cursor);
      for (let i = 0; i < n; i++) {
        const src = order[this.cursor + i]! * dIn;
        out.set(buffer.subarray(src, src + dIn), (done + i) * dIn);
      }
      this.cursor += n;
      done += n;
    }
    this.served += rows;
    this.servedEpoch = this.bufferEpoch;
    return out.length === need ? out : out.subarray(0, need);
  }

  /** Refills the served slots with fresh rows, reshuffles and chooses the rows to serve next. */
  private refill(): void {
    const dIn = this.dIn;
    const capacity = this.capacity;
    this.buffer ??= new Float32Array(capacity * dIn);
    const buffer = this.buffer;
    // Compact: rows still held first, then the freed slots (served ones and never-filled ones).
    const served = this.serveEnd;
    let m = this.live - served;
    this.scratch.set(this.order.subarray(served, this.live), 0);
    this.scratch.set(this.order.subarray(0, served), m);
    this.scratch.set(this.order.subarray(this.live, capacity), this.live);
    [this.order, this.scratch] = [this.scratch, this.order];
    const order = this.order;

    if (m === 0 && this.exhausted) this.exhausted = false; // the previous epoch is fully served
    while (m < capacity && !this.exhausted) {
      if (this.pending === null || this.pendingRow === this.pending.rows) {
        this.pendingStart = this.source.position;
        this.pending = this.source.pull();
        this.pendingRow = 0;
        this.bufferEpoch = this.pending.epoch;
      }
      const chunk = this.pending;
      const n = Math.min(capacity - m, chunk.rows - this.pendingRow);
      const data = chunk.data;
      let src = this.pendingRow * dIn;
      for (let i = 0; i < n; i++, src += dIn) buffer.set(data.subarray(src, src + dIn), order[m + i]! * dIn);
      m += n;
      this.pendingRow += n;
      if (this.pendingRow === chunk.rows && chunk.endOfEpoch) this.exhausted = true;
    }
    this.live = m;
    this.rng.shuffle(order.subarray(0, m));
    this.cursor = 0;
    this.serveEnd = this.exhausted ? m : Math.max(1, Math.floor(capacity / 2));
  }

  /**
   * The exact state. Only the logical order of the buffered rows matters (which slot holds a row does not: refills
   * shuffle slot indices by position), so the rows are saved compacted, in serving order.
   */
  snapshot(): StreamSnapshot {
    const dIn = this.dIn;
    const held = this.live - this.cursor;
    const rows = new Float32Array(held * dIn);
    for (let i = 0; i < held; i++) {
      const src = this.order[this.cursor + i]! * dIn;
      rows.set(this.buffer!.subarray(src, src + dIn), i * dIn);
    }
    const pending = this.pending !== null && this.pendingRow < this.pending.rows ? { start: this.pendingStart, row: this.pendingRow } : null;
    return {
      rows,
      state: {
        version: 1, dIn, capacity: this.capacity, served: this.served, servedEpoch: this.servedEpoch, bufferEpoch: this.bufferEpoch,
        exhausted: this.exhausted, held, serveAhead: this.serveEnd - this.cursor, rng: this.rng.state(), position: this.source.position, pending,
      },
    };
  }

  /** Continues from a snapshot() of a buffer over the same data and seed (re-reads the pending chunk). */
  restore(snapshot: StreamSnapshot): void {
    const s = snapshot.state;
    const bad = (what: string): never => {
      throw new ActivationError(`stream snapshot: ${what}`);
    };
    if (s?.version !== 1) bad(`unsupported version ${JSON.stringify(s?.version)}`);
    if (s.dIn !== this.dIn || s.capacity !== this.capacity) bad(`taken with d_in ${s.dIn} and ${s.capacity} buffer rows; this stream has ${this.dIn} and ${this.capacity}`);
    if (!Number.isSafeInteger(s.held) || s.held < 0 || s.held > this.capacity || snapshot.rows.length !== s.held * this.dIn) bad(`${s.held} buffered rows do not match ${snapshot.rows.length} values`);
    if (!Number.isSafeInteger(s.serveAhead) || s.serveAhead < 0 || s.serveAhead > s.held) bad(`serveAhead ${s.serveAhead} outside [0, ${s.held}]`);
    for (const [k, v] of [["served", s.served], ["position", s.position]] as const) if (!Number.isSafeInteger(v) || v < 0) bad(`${k} must be a non-negative integer, got ${v}`);
    this.buffer ??= new Float32Array(this.capacity * this.dIn);
    this.buffer.set(snapshot.rows, 0);
    for (let i = 0; i < this.capacity; i++) this.order[i] = i;
    this.live = s.held;
    this.cursor = 0;
    this.serveEnd = s.serveAhead;
    this.served = s.served;
    this.servedEpoch = s.servedEpoch;
    this.bufferEpoch = s.bufferEpoch;
    this.exhausted = s.exhausted;
    this.rng = Rng.fromState(s.rng);
    this.pending = null;
    this.pendingRow = 0;
    if (s.pending !== null) {
      this.source.position = s.pending.start;
      this.pendingStart = s.pending.start;
      this.pending = this.source.pull();
      this.pendingRow = s.pending.row;
      if (!(this.pendingRow >= 0 && this.pendingRow < this.pending.rows)) bad(`pending row ${s.pending.row} outside the chunk's ${this.pending.rows} rows`);
    }
    if (this.source.position !== s.position) {
      if (s.pending !== null) bad(`re-reading the pending chunk ends at position ${this.source.position}, the snapshot says ${s.position} (other data?)`);
      this.source.position = s.position;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rows from the model

/**
 * The data order's permutation for epoch `epoch` (0-based) of `size` items (sequences for a model store, shards for
 * a cache) under `seed`: `new Rng(seed).fork(epoch).permutation(size)`.
 */
export function epochPermutation(seed: number, epoch: number, size: number): Int32Array {
  return new Rng(seed).fork(epoch).permutation(size);
}

/** A stream for the shuffle buffer's own Rng, apart from the epoch streams 0, 1, 2, …. */
function bufferRng(seed: number, start: number): Rng {
  return new Rng(seed).fork(-1 - start);
}

export interface ModelActivationSourceSpec {
  model: HookedTransformer;
  /** Must be one of the model's hook points with one row per token. */
  hookName: string;
  /** e.g. [prose train, code train]; mixed together. All must share nCtx (≤ the model's n_ctx). */
  sequences: TokenSequences[];
  seed: number;
  /** Sequences per forward pass (default 32). */
  forwardBatch?: number;
}

/** Model activations of sequences in the seeded epoch order, one forward batch per chunk (never across epochs). */
class ModelChunkSource implements ChunkSource {
  readonly model: HookedTransformer;
  readonly hookName: string;
  readonly dIn: number;
  readonly nCtx: number;
  readonly count: number;
  readonly forwardBatch: number;
  private readonly seed: number;
  private readonly parts: readonly TokenSequences[];
  private readonly starts: number[];
  private readonly tokens: Int32Array;
  private staging: Float32Array | null = null;
  private permEpoch = -1;
  private perm: Int32Array = new Int32Array(0);
  /** Absolute position in the order (epoch · count + index). */
  position: number;

  constructor(spec: ModelActivationSourceSpec, start: number) {
    const { model, hookName, sequences, seed } = spec;
    if (typeof model?.forward !== "function" || model.cfg === undefined) {
      throw new ActivationError("model must be a HookedTransformer");
    }
    this.dIn = hookActivationWidth(model.cfg, hookName);
    if (!Number.isSafeInteger(seed)) throw new ActivationError(`seed must be a safe integer, got ${seed}`);
    this.forwardBatch = spec.forwardBatch ?? DEFAULT_FORWARD_BATCH;
    checkPositiveInteger("forwardBatch", this.forwardBatch);
    checkNonNegativeInteger("startSequence", start);
    if (!Array.isArray(sequences) || sequences.length === 0) {
      throw new ActivationError("sequences: no token sequences given (pass at least one [nSeq, nCtx] set)");
    }
    const nCtx = sequences[0]!.nCtx;
    sequences.forEach((s, i) => {
      if (!(s.tokens instanceof Int32Array)) throw new ActivationError(`sequences[${i}].tokens must be an Int32Array`);
      if (s.nCtx !== nCtx) {
        throw new ActivationError(`sequences[${i}] has nCtx ${s.nCtx}, but sequences[0] has ${nCtx}: all sets must share nCtx`);
      }
      if (s.tokens.length % Math.max(1, s.nCtx) !== 0) {
        throw new ActivationError(`sequences[${i}] has ${s.tokens.length} tokens, not a multiple of nCtx ${s.nCtx}`);
      }
    });
    if (!Number.isInteger(nCtx) || nCtx < 1 || nCtx > model.cfg.n_ctx) {
      throw new ActivationError(`sequences have nCtx ${nCtx}; it must be an integer in [1, model n_ctx = ${model.cfg.n_ctx}]`);
    }
    this.starts = [];
    let count = 0;
    for (const s of sequences) {
      this.starts.push(count);
      count += sequenceCount(s);
    }
    if (count === 0) throw new ActivationError("sequences: the given sets hold no sequences");
    this.model = model;
    this.hookName = hookName;
    this.parts = sequences;
    this.nCtx = nCtx;
    this.count = count;
    this.seed = seed;
    this.position = start;
    this.tokens = new Int32Array(this.forwardBatch * nCtx);
  }

  /** "sequence G (set s, row r)" for global sequence index G. */
  describeSequence(global: number): string {
    let part = this.parts.length - 1;
    while (this.starts[part]! > global) part--;
    return `sequence ${global} (set ${part}, row ${global - this.starts[part]!})`;
  }

  private sequenceRow(global: number): Int32Array {
    let part = this.parts.length - 1;
    while (this.starts[part]! > global) part--;
    const local = global - this.starts[part]!;
    return this.parts[part]!.tokens.subarray(local * this.nCtx, (local + 1) * this.nCtx);
  }

  pull(): Chunk {
    const count = this.count;
    const nCtx = this.nCtx;
    const epoch = Math.floor(this.position / count);
    const index = this.position - epoch * count;
    if (epoch !== this.permEpoch) {
      this.perm = epochPermutation(this.seed, epoch, count);
      this.permEpoch = epoch;
    }
    const batch = Math.min(this.forwardBatch, count - index);
    const vocab = this.model.cfg.d_vocab;
    for (let b = 0; b < batch; b++) {
      const row = this.sequenceRow(this.perm[index + b]!);
      for (let t = 0; t < nCtx; t++) {
        const id = row[t]!;
        if (!(id >= 0 && id < vocab)) {
          throw new ActivationError(
            `${this.describeSequence(this.perm[index + b]!)}, position ${t}: token id ${id} is outside [0, d_vocab=${vocab})`,
          );
        }
      }
      this.tokens.set(row, b * nCtx);
    }
    const tokens = this.tokens.subarray(0, batch * nCtx);
    const { cache } = this.model.forward(Tape.noGrad(), tokens, batch, nCtx, {
      stopAt: this.hookName,
      cache: [this.hookName],
    });
    const act = cache.get(this.hookName);
    const rows = batch * nCtx;
    if (act === undefined || act.data.length !== rows * this.dIn) {
      throw new ActivationError(
        `hook ${this.hookName}: expected an activation of ${rows}·${this.dIn} values, got ` +
          (act === undefined ? "none" : `shape [${act.shape.join(", ")}]`),
      );
    }
    let data: Float32Array;
    if (act.data instanceof Float32Array) data = act.data;
    else {
      // A float64 model: convert once into a reused staging array.
      if (this.staging === null || this.staging.length < this.tokens.length * this.dIn) {
        this.staging = new Float32Array(this.tokens.length * this.dIn);
      }
      data = this.staging.subarray(0, rows * this.dIn);
      data.set(act.data);
    }
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const row = Math.floor(bad / this.dIn);
      const seq = this.perm[index + Math.floor(row / nCtx)]!;
      throw new ActivationError(
        `hook ${this.hookName}: non-finite activation ${data[bad]} in ${this.describeSequence(seq)}, ` +
          `position ${row % nCtx}, component ${bad % this.dIn}`,
      );
    }
    this.position += batch;
    return { data, rows, epoch: epoch + 1, endOfEpoch: index + batch === count };
  }
}

export interface ModelActivationOptions extends ModelActivationSourceSpec {
  /** Shuffle buffer capacity in rows (default 131072 = 2^17). */
  bufferRows?: number;
  /**
   * Resume: skip this many sequences of the seeded order (may exceed one epoch). The buffer's contents are not
   * restored: pass a checkpoint's `sequencesRead`, and the rows that were buffered but unserved are skipped.
   */
  startSequence?: number;
}

/**
 * What both stores share: rows come out of a ShuffleBuffer fed by a ChunkSource, whose read position is where a
 * resumed store starts.
 */
abstract class BufferedActivationStore implements ActivationSource {
  abstract readonly dIn: number;
  abstract readonly hookName: string;
  protected abstract readonly source: ChunkSource & { readonly position: number };
  protected abstract readonly buffer: ShuffleBuffer;

  next(rows: number, out?: Float32Array): Float32Array {
    return this.buffer.next(rows, out);
  }

  get served(): number {
    return this.buffer.served;
  }

  get epoch(): number {
    return this.buffer.servedEpoch;
  }

  /** The source's read position (startSequence / startRow of a resumed store). */
  get resumePosition(): number {
    return this.source.position;
  }

  snapshot(): StreamSnapshot {
    return this.buffer.snapshot();
  }

  restore(snapshot: StreamSnapshot): void {
    this.buffer.restore(snapshot);
  }
}

/** Activations computed from a model on the fly, shuffled through a bounded buffer. */
export class ModelActivationStore extends BufferedActivationStore {
  readonly dIn: number;
  readonly hookName: string;
  /** Sequences in the whole data (all sets together). */
  readonly sequenceCount: number;
  readonly nCtx: number;
  readonly bufferRows: number;
  protected readonly source: ModelChunkSource;
  protected readonly buffer: ShuffleBuffer;

  constructor(o: ModelActivationOptions) {
    super();
    const start = o.startSequence ?? 0;
    this.source = new ModelChunkSource(o, start);
    this.bufferRows = o.bufferRows ?? DEFAULT_BUFFER_ROWS;
    checkPositiveInteger("bufferRows", this.bufferRows);
    this.dIn = this.source.dIn;
    this.hookName = o.hookName;
    this.sequenceCount = this.source.count;
    this.nCtx = this.source.nCtx;
    this.buffer = new ShuffleBuffer(this.dIn, this.bufferRows, bufferRng(o.seed, start), this.source);
  }

  /** Position in the seeded sequence order (startSequence included): what to pass as startSequence to resume. */
  get sequencesRead(): number {
    return this.source.position;
  }
}

// ---------------------------------------------------------------------------------------------
// The activation cache: writing

export interface ActivationCacheManifest {
  version: 1;
  hookName: string;
  dIn: number;
  dtype: ActivationDtype;
  rows: number;
  shards: Array<{ file: string; rows: number }>;
  /** Free-form: model dir / name, n_ctx, …. */
  model: Record<string, unknown>;
  /** Free-form: where the tokens came from, seed, …. */
  source: Record<string, unknown>;
  createdBy: string;
}

export interface ActivationCacheWriteOptions {
  /** Rows to write (cycles the data when it has fewer; the manifest's source.epochs says how often). */
  rows: number;
  dtype?: ActivationDtype;
  /** Rows per shard file (default 65536). */
  shardRows?: number;
  model?: Record<string, unknown>;
  sourceInfo?: Record<string, unknown>;
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
}

/**
 * Writes `options.rows` activation rows of `source.hookName` into `dir`: shards acts-00000.safetensors, … each
 * with one tensor "activations" [rows, dIn], each written atomically, then manifest.json last (atomically), so a
 * folder without a manifest is an unfinished cache. Sequences are read in the seeded epoch order (readers shuffle,
 * so no buffer here). An existing cache in `dir` is replaced: its manifest is removed first, then its shards.
 */
export function writeActivationCache(
  source: ModelActivationSourceSpec,
  dir: string,
  options: ActivationCacheWriteOptions,
): ActivationCacheManifest {
  const producer = new ModelChunkSource(source, 0);
  const total = options.rows;
  checkPositiveInteger("rows", total);
  const dtype = options.dtype ?? "F32";
  if (!ACTIVATION_DTYPES.includes(dtype)) throw new ActivationError(`dtype must be F32, F16 or BF16, got ${String(dtype)}`);
  const shardRows = options.shardRows ?? DEFAULT_SHARD_ROWS;
  checkPositiveInteger("shardRows", shardRows);
  const dIn = producer.dIn;

  fs.mkdirSync(dir, { recursive: true });
  // Invalidate any previous cache before touching its shards.
  fs.rmSync(join(dir, ACTIVATION_CACHE_MANIFEST), { force: true });
  for (const name of fs.readdirSync(dir)) if (SHARD_FILE_PATTERN.test(name)) fs.rmSync(join(dir, name), { force: true });

  const shards: Array<{ file: string; rows: number }> = [];
  const shard = new Float32Array(Math.min(shardRows, total) * dIn);
  let inShard = 0;
  let done = 0;
  let epochs = 0;
  const flush = (): void => {
    const file = activationShardName(shards.length);
    saveSafetensors(join(dir, file), {
      [ACTIVATION_TENSOR]: { dtype, shape: [inShard, dIn], data: shard.subarray(0, inShard * dIn) },
    }, { format: "saekit-activations", hook_name: source.hookName });
    shards.push({ file, rows: inShard });
    inShard = 0;
  };
  while (done < total) {
    const chunk = producer.pull();
    epochs = chunk.epoch;
    let row = 0;
    while (row < chunk.rows && done < total) {
      const n = Math.min(chunk.rows - row, total - done, shard.length / dIn - inShard);
      shard.set(chunk.data.subarray(row * dIn, (row + n) * dIn), inShard * dIn);
      inShard += n;
      row += n;
      done += n;
      if (inShard * dIn === shard.length) flush();
    }
    options.onProgress?.(done, total);
  }
  if (inShard > 0) flush();

  const cfg = source.model.cfg;
  const manifest: ActivationCacheManifest = {
    version: 1,
    hookName: source.hookName,
    dIn,
    dtype,
    rows: total,
    shards,
    model: {
      ...(cfg.model_name !== undefined ? { model_name: cfg.model_name } : {}),
      n_layers: cfg.n_layers,
      d_model: cfg.d_model,
      d_mlp: cfg.d_mlp,
      n_ctx: cfg.n_ctx,
      ...options.model,
    },
    source: {
      seed: source.seed,
      forwardBatch: producer.forwardBatch,
      nCtx: producer.nCtx,
      sequences: producer.count,
      sets: source.sequences.map((s) => sequenceCount(s)),
      sequencesRead: producer.position,
      epochs,
      ...options.sourceInfo,
    },
    createdBy: "saekit writeActivationCache",
  };
  writeFileAtomicSync(join(dir, ACTIVATION_CACHE_MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

// ---------------------------------------------------------------------------------------------
// The activation cache: reading

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const DTYPE_BYTES: Record<ActivationDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Reads and checks `dir`/manifest.json (every error names the file). */
export function readActivationCacheManifest(dir: string): ActivationCacheManifest {
  const path = join(dir, ACTIVATION_CACHE_MANIFEST);
  if (!fs.existsSync(path)) {
    throw new ActivationError(
      `${path}: no manifest — ${dir} is not an activation cache, or writing it did not finish (the manifest is written last)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path, "utf8"));
  } catch (e) {
    throw new ActivationError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const fail = (problem: string): never => {
    throw new ActivationError(`${path}: ${problem}`);
  };
  if (!isRecord(raw)) return fail("the manifest must be a JSON object");
  if (raw.version !== 1) fail(`unsupported version ${JSON.stringify(raw.version)} (expected 1)`);
  if (typeof raw.hookName !== "string" || raw.hookName === "") fail(`"hookName" must be a non-empty string`);
  if (!Number.isSafeInteger(raw.dIn) || (raw.dIn as number) < 1) fail(`"dIn" must be a positive integer, got ${JSON.stringify(raw.dIn)}`);
  if (typeof raw.dtype !== "string" || !ACTIVATION_DTYPES.includes(raw.dtype)) {
    fail(`"dtype" must be "F32", "F16" or "BF16", got ${JSON.stringify(raw.dtype)}`);
  }
  if (!Number.isSafeInteger(raw.rows) || (raw.rows as number) < 1) fail(`"rows" must be a positive integer, got ${JSON.stringify(raw.rows)}`);
  if (!Array.isArray(raw.shards) || raw.shards.length === 0) fail(`"shards" must be a non-empty array`);
  let sum = 0;
  (raw.shards as unknown[]).forEach((s, i) => {
    if (!isRecord(s)) return fail(`shards[${i}] must be an object {file, rows}`);
    if (typeof s.file !== "string" || s.file === "" || /[/\\]/.test(s.file) || s.file === "." || s.file === "..") {
      fail(`shards[${i}].file must be a plain file name inside the cache folder, got ${JSON.stringify(s.file)}`);
    }
    if (!Number.isSafeInteger(s.rows) || (s.rows as number) < 0) fail(`shards[${i}].rows must be a non-negative integer`);
    sum += s.rows as number;
  });
  if (sum !== raw.rows) fail(`"rows" is ${raw.rows as number} but the shards hold ${sum} rows together`);
  for (const key of ["model", "source"] as const) if (!isRecord(raw[key])) fail(`"${key}" must be an object`);
  return raw as unknown as ActivationCacheManifest;
}

interface ShardInfo {
  path: string;
  rows: number;
  /** File position of the first byte of "activations". */
  fileOffset: number;
}

/** Rows of cache shards in the seeded epoch order of shards, read with positional reads, one chunk at a time. */
class CacheChunkSource implements ChunkSource {
  private readonly shards: ShardInfo[];
  private readonly seed: number;
  private readonly dIn: number;
  private readonly dtype: ActivationDtype;
  private readonly total: number;
  private readonly chunkRows: number;
  private readonly bytes: Uint8Array;
  private readonly out: Float32Array;
  private epochOrder: Int32Array = new Int32Array(0);
  /** First row (within an epoch) of each position of epochOrder, plus the total. */
  private epochStarts: number[] = [];
  private orderEpoch = -1;
  private fd: number | undefined;
  private fdShard = -1;
  position: number;

  constructor(manifest: ActivationCacheManifest, shards: ShardInfo[], seed: number, start: number) {
    this.shards = shards;
    this.seed = seed;
    this.dIn = manifest.dIn;
    this.dtype = manifest.dtype;
    this.total = manifest.rows;
    // About 4 MiB of float32 per read.
    this.chunkRows = Math.max(1, Math.min(Math.floor((1 << 20) / this.dIn), this.total));
    const elementBytes = DTYPE_BYTES[this.dtype];
    this.bytes = new Uint8Array(this.chunkRows * this.dIn * elementBytes);
    this.out = this.dtype === "F32" ? new Float32Array(this.bytes.buffer) : new Float32Array(this.chunkRows * this.dIn);
    this.position = start;
  }

  pull(): Chunk {
    const total = this.total;
    const epoch = Math.floor(this.position / total);
    const r = this.position - epoch * total;
    if (epoch !== this.orderEpoch) {
      this.epochOrder = epochPermutation(this.seed, epoch, this.shards.length);
      this.epochStarts = [0];
      for (const s of this.epochOrder) this.epochStarts.push(this.epochStarts[this.epochStarts.length - 1]! + this.shards[s]!.rows);
      this.orderEpoch = epoch;
    }
    // The order position holding row r (empty shards are stepped over: their start equals the next one's).
    let k = 0;
    while (this.epochStarts[k + 1]! <= r) k++;
    const shardIndex = this.epochOrder[k]!;
    const shard = this.shards[shardIndex]!;
    const inShard = r - this.epochStarts[k]!;
    const rows = Math.min(this.chunkRows, shard.rows - inShard);
    const elementBytes = DTYPE_BYTES[this.dtype];
    const rowBytes = this.dIn * elementBytes;
    const bytes = this.bytes.subarray(0, rows * rowBytes);
    this.readAt(shardIndex, bytes, shard.fileOffset + inShard * rowBytes);
    if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, elementBytes);
    const n = rows * this.dIn;
    let data: Float32Array;
    if (this.dtype === "F32") data = this.out.subarray(0, n);
    else {
      const bits = new Uint16Array(this.bytes.buffer, 0, n);
      data = this.out.subarray(0, n);
      if (this.dtype === "F16") float16BitsToFloat32Array(bits, data);
      else bfloat16BitsToFloat32Array(bits, data);
    }
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new ActivationError(
        `${shard.path}: non-finite activation ${data[bad]} at row ${inShard + Math.floor(bad / this.dIn)}, component ${bad % this.dIn}`,
      );
    }
    this.position += rows;
    return { data, rows, epoch: epoch + 1, endOfEpoch: r + rows === total };
  }

  private readAt(shardIndex: number, target: Uint8Array, position: number): void {
    if (this.fdShard !== shardIndex) {
      this.close();
      this.fd = fs.openSync(this.shards[shardIndex]!.path, "r");
      this.fdShard = shardIndex;
    }
    let done = 0;
    while (done < target.length) {
      const got = fs.readSync(this.fd!, target, done, target.length - done, position + done);
      if (got === 0) {
        throw new ActivationError(`${this.shards[shardIndex]!.path}: file ended early (truncated after the cache was written?)`);
      }
      done += got;
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.fdShard = -1;
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

export interface CachedActivationOptions {
  dir: string;
  seed: number;
  /** Shuffle buffer capacity in rows (default 131072 = 2^17). */
  bufferRows?: number;
  /** Resume: skip this many rows of the seeded order (buffer contents are not restored; see the module comment). */
  startRow?: number;
}

/** Activations read from a cache folder written by writeActivationCache, shuffled through a bounded buffer. */
export class CachedActivationStore extends BufferedActivationStore {
  readonly manifest: ActivationCacheManifest;
  readonly dIn: number;
  readonly hookName: string;
  readonly bufferRows: number;
  protected readonly source: CacheChunkSource;
  protected readonly buffer: ShuffleBuffer;

  constructor(o: CachedActivationOptions) {
    super();
    const manifest = readActivationCacheManifest(o.dir);
    const start = o.startRow ?? 0;
    checkNonNegativeInteger("startRow", start);
    if (!Number.isSafeInteger(o.seed)) throw new ActivationError(`seed must be a safe integer, got ${o.seed}`);
    this.bufferRows = o.bufferRows ?? DEFAULT_BUFFER_ROWS;
    checkPositiveInteger("bufferRows", this.bufferRows);
    const shards = manifest.shards.map((s) => checkShard(join(o.dir, s.file), manifest, s.rows));
    this.manifest = manifest;
    this.dIn = manifest.dIn;
    this.hookName = manifest.hookName;
    this.source = new CacheChunkSource(manifest, shards, o.seed, start);
    this.buffer = new ShuffleBuffer(this.dIn, this.bufferRows, bufferRng(o.seed, start), this.source);
  }

  /** Position in the seeded row order (startRow included): what to pass as startRow to resume. */
  get rowsRead(): number {
    return this.source.position;
  }

  /** Closes the open shard file (reading again reopens it). */
  close(): void {
    this.source.close();
  }
}

/** Opens a shard's header (only) and checks it against the manifest. */
function checkShard(path: string, manifest: ActivationCacheManifest, rows: number): ShardInfo {
  if (!fs.existsSync(path)) throw new ActivationError(`${path}: shard listed in the manifest is missing`);
  let reader: ReturnType<typeof openSafetensors>;
  try {
    reader = openSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ActivationError(`${path}: not a valid shard: ${e.message}`);
    throw e;
  }
  try {
    if (!reader.has(ACTIVATION_TENSOR)) {
      throw new ActivationError(`${path}: no tensor "${ACTIVATION_TENSOR}" (has ${reader.names().join(", ") || "none"})`);
    }
    const info = reader.info(ACTIVATION_TENSOR);
    if (info.dtype !== manifest.dtype) {
      throw new ActivationError(`${path}: "${ACTIVATION_TENSOR}" is ${info.dtype}, the manifest says ${manifest.dtype}`);
    }
    if (info.shape.length !== 2 || info.shape[0] !== rows || info.shape[1] !== manifest.dIn) {
      throw new ActivationError(
        `${path}: "${ACTIVATION_TENSOR}" has shape [${info.shape.join(", ")}], the manifest says [${rows}, ${manifest.dIn}]`,
      );
    }
    return { path, rows, fileOffset: info.fileOffset };
  } finally {
    reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/**
 * SAELens' "expected_average_only_in" normalisation: the factor s with E‖s·x‖² = dIn, i.e. s = sqrt(dIn / mean ‖x‖²),
 * estimated from the next `rows` rows of `source` (which are consumed: use a separate store, or accept that
 * training starts that many rows later).
 */
export function estimateNormScale(source: ActivationSource, rows = DEFAULT_NORM_ESTIMATE_ROWS): number {
  checkPositiveInteger("estimateNormScale: rows", rows);
  const dIn = source.dIn;
  const step = Math.min(rows, 4096);
  const out = new Float32Array(step * dIn);
  let sum = 0;
  for (let done = 0; done < rows; ) {
    const n = Math.min(step, rows - done);
    const data = source.next(n, out);
    for (let i = 0; i < n * dIn; i++) sum += data[i]! * data[i]!;
    done += n;
  }
  const meanSq = sum / rows;
  if (!(meanSq > 0) || !Number.isFinite(meanSq)) {
    throw new ActivationError(`estimateNormScale: mean squared norm of ${source.hookName} is ${meanSq}; cannot normalise`);
  }
  return Math.sqrt(dIn / meanSq);
}
