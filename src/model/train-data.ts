/**
 * Training data for the transformer: the train sequences of both domains behind one index space, visited in a
 * seeded shuffled order that is reshuffled every epoch, and cut into (inputs, next-token targets) micro-batches.
 *
 * The order is resumable exactly: its state is the RNG state from which the current epoch's permutation was
 * drawn, the epoch number and the position inside it, so a resumed run sees the very same batches.
 */
import { Rng, type RngState } from "../core/rng.js";
import { sequenceCount, type TokenSequences } from "./baselines.js";

/** Targets equal to this are not scored (the last position of each sequence has no next token). */
export const IGNORE_TARGET = -1;

/**
 * A flat token stream [sequences, fromCtx] re-cut into rows of nCtx ≤ fromCtx tokens. Token shards are
 * documents laid end to end, so a shorter context is just a finer cut of the same stream (the remainder is
 * dropped, as the shards do).
 */
export function recutSequences(tokens: Int32Array, nCtx: number): TokenSequences {
  const rows = Math.floor(tokens.length / nCtx);
  return { tokens: tokens.subarray(0, rows * nCtx), nCtx };
}

/** Several TokenSequences addressed as one list: index 0 … count−1 runs through them in order. */
export class SequencePool {
  readonly parts: readonly TokenSequences[];
  readonly count: number;
  readonly nCtx: number;
  private readonly starts: number[];

  constructor(parts: readonly TokenSequences[]) {
    const nCtx = parts[0]?.nCtx ?? 0;
    if (parts.some((p) => p.nCtx !== nCtx)) throw new RangeError("SequencePool: all parts must have the same nCtx");
    this.parts = parts;
    this.nCtx = nCtx;
    this.starts = [];
    let count = 0;
    for (const p of parts) {
      this.starts.push(count);
      count += sequenceCount(p);
    }
    this.count = count;
  }

  /** The tokens of sequence `index` (a view). */
  row(index: number): Int32Array {
    if (!(index >= 0 && index < this.count)) throw new RangeError(`SequencePool: index ${index} outside [0, ${this.count})`);
    let part = this.parts.length - 1;
    while (this.starts[part]! > index) part--;
    const local = index - this.starts[part]!;
    return this.parts[part]!.tokens.subarray(local * this.nCtx, (local + 1) * this.nCtx);
  }
}

/** JSON-serialisable position of a DataOrder (saved in checkpoints). */
export interface DataOrderState {
  /** The RNG state the current epoch's permutation was drawn from. */
  epochRng: RngState;
  epoch: number;
  /** Sequences of the current epoch already handed out. */
  position: number;
}

/** A seeded shuffle of 0 … size−1, reshuffled (by the same RNG stream) at the start of each epoch. */
export class DataOrder {
  readonly size: number;
  private rng: Rng;
  private epochRng: RngState;
  private permutation: Int32Array;
  private epochNumber: number;
  private position: number;

  private constructor(size: number, epochRng: RngState, epoch: number, position: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`DataOrder: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(position) || position < 0 || position > size) {
      throw new RangeError(`DataOrder: position ${position} is outside [0, ${size}]`);
    }
    this.size = size;
    this.epochRng = epochRng;
    this.rng = Rng.fromState(epochRng);
    this.permutation = this.rng.permutation(size);
    this.epochNumber = epoch;
    this.position = position;
  }

  /** The order at the start of epoch 0 for a seed. */
  static start(size: number, rng: Rng): DataOrder {
    return new DataOrder(size, rng.state(), 0, 0);
  }

  static fromState(size: number, state: DataOrderState): DataOrder {
    return new DataOrder(size, state.epochRng, state.epoch, state.position);
  }

  state(): DataOrderState {
    return { epochRng: this.epochRng, epoch: this.epochNumber, position: this.position };
  }

  /** Completed epochs plus the fraction of the current one. */
  get epochs(): number {
    return this.epochNumber + this.position / this.size;
  }

  /** The next sequence index, starting a freshly shuffled epoch when the current one is used up. */
  next(): number {
    if (this.position === this.size) {
      this.epochRng = this.rng.state();
      this.permutation = this.rng.permutation(this.size);
      this.epochNumber += 1;
      this.position = 0;
    }
    return this.permutation[this.position++]!;
  }
}

/** A micro-batch: inputs [batch, nCtx] and next-token targets (IGNORE_TARGET at each sequence's last position). */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  batch: number;
  nCtx: number;
}

/** Targets for rows of tokens [batch, nCtx]: targets[b, t] = tokens[b, t+1], the last position ignored. */
export function nextTokenTargets(tokens: Int32Array, nCtx: number, out = new Int32Array(tokens.length)): Int32Array {
  for (let start = 0; start < tokens.length; start += nCtx) {
    out.set(tokens.subarray(start + 1, start + nCtx), start);
    out[start + nCtx - 1] = IGNORE_TARGET;
  }
  return out;
}

/** Fills a batch from the given sequence indices of a pool. */
export function gatherBatch(pool: SequencePool, indices: ArrayLike<number>): Batch {
  const nCtx = pool.nCtx;
  const inputs = new Int32Array(indices.length * nCtx);
  for (let b = 0; b < indices.length; b++) inputs.set(pool.row(indices[b]!), b * nCtx);
  return { inputs, targets: nextTokenTargets(inputs, nCtx), batch: indices.length, nCtx };
}

/** The next `batch` sequences of the order as a micro-batch. */
export function nextBatch(pool: SequencePool, order: DataOrder, batch: number): Batch {
  const indices = new Int32Array(batch);
  for (let b = 0; b < batch; b++) indices[b] = order.next();
  return gatherBatch(pool, indices);
}

/** k indices spread evenly over 0 … count−1 (all of them when k ≥ count): a fixed, deterministic subset. */
export function evenlySpacedIndices(count: number, k: number): Int32Array {
  const n = Math.min(count, Math.max(0, k));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor((i * count) / n);
  return out;
}
