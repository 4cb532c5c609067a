/**
 * Where each unit's activation mass lies, by token: the candidate tokens of the interpretability search
 * (interpretability.ts) beyond the unit's top examples, which only see its rare strongest activations.
 *
 * MassHeavyHitters: one weighted space-saving sketch per unit (Metwally, Agrawal & El Abbadi 2005, with weights as
 * in Berinde et al. 2010), K counters each, all units in flat typed arrays (no per-unit objects: 131,072 features fit
 * in U·K·24 bytes; ids are float64 so that a bigram's key previous·V + current, up to V² ≈ 2.5·10⁹, fits exactly).
 * An update (unit, id, w > 0): the id's counter grows by w; a new id takes a free counter, or else
 * replaces the counter with the smallest count c, starting at c + w with error c. With W the unit's total weight:
 *   - every count over-estimates its id's true weight by at most its error, so count − error ≤ true ≤ count;
 *   - the smallest count is ≤ W / K, so every id whose true weight exceeds W / K holds a counter;
 *   - an id without a counter has true weight ≤ the smallest count.
 *
 * ExactTokenMass: the exact [token × unit] mass, for unit sets small enough to afford V·U floats (the model's
 * neurons: 50,257 × 512 × 4 bytes = 103 MB), where a dense row adds contiguously — cheaper than K-counter scans.
 */

export class HeavyHitterError extends Error {
  override name = "HeavyHitterError";
}

/** Counters per unit of the analyze sketches: 2× the candidates taken from them, so those are well estimated. */
export const HEAVY_HITTER_COUNTERS = 32;

/** Token ids holding the most mass of each unit (MassHeavyHitters or ExactTokenMass). */
export interface TokenMassRanking {
  readonly units: number;
  /** Up to n ids of unit u, most (estimated) mass first; ties: the smaller id. */
  top(u: number, n: number): number[];
}

export class MassHeavyHitters implements TokenMassRanking {
  private readonly ids: Float64Array;
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly total: Float64Array;

  constructor(readonly units: number, readonly counters: number = HEAVY_HITTER_COUNTERS) {
    if (!Number.isInteger(units) || units < 0) throw new HeavyHitterError(`heavy hitters: units must be a non-negative integer, got ${units}`);
    if (!Number.isInteger(counters) || counters < 1) throw new HeavyHitterError(`heavy hitters: counters must be a positive integer, got ${counters}`);
    this.ids = new Float64Array(units * counters).fill(-1);
    this.counts = new Float64Array(units * counters);
    this.errors = new Float64Array(units * counters);
    this.total = new Float64Array(units);
  }

  /** Adds weight w to id for unit u; w ≤ 0 (or NaN) is ignored. Counters fill in order and never empty again. */
  add(u: number, id: number, w: number): void {
    if (!(w > 0)) return;
    const K = this.counters;
    const ids = this.ids;
    const counts = this.counts;
    this.total[u]! += w;
    let minJ = -1;
    let minC = Infinity;
    for (let j = u * K, end = j + K; j < end; j++) {
      const x = ids[j]!;
      if (x === id) {
        counts[j]! += w;
        return;
      }
      if (x < 0) {
        ids[j] = id;
        counts[j] = w;
        this.errors[j] = 0;
        return;
      }
      if (counts[j]! < minC) {
        minC = counts[j]!;
        minJ = j;
      }
    }
    ids[minJ] = id;
    this.errors[minJ] = minC;
    counts[minJ] = minC + w;
  }

  /** Every position's codes at once: row r's units indices[r·k .. r·k + k) (−1 = none) weigh values there, keyed by keys[r] (−1 = skip the row). */
  addRows(keys: ArrayLike<number>, rows: number, k: number, indices: Int32Array, values: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const id = keys[r]!;
      if (id < 0) continue;
      for (let j = r * k, end = j + k; j < end; j++) {
        const u = indices[j]!;
        if (u >= 0) this.add(u, id, values[j]!);
      }
    }
  }

  /** The unit's total added weight W. */
  totalWeight(u: number): number {
    return this.total[u]!;
  }

  /** The unit's counters, count descending (ties: the smaller id): id, estimated weight, its error bound. */
  entries(u: number): { id: number; count: number; error: number }[] {
    if (!(Number.isInteger(u) && u >= 0 && u < this.units)) throw new HeavyHitterError(`heavy hitters: unit ${u} is not in 0..${this.units - 1}`);
    const out: { id: number; count: number; error: number }[] = [];
    for (let j = u * this.counters, end = j + this.counters; j < end && this.ids[j]! >= 0; j++) out.push({ id: this.ids[j]!, count: this.counts[j]!, error: this.errors[j]! });
    return out.sort((a, b) => b.count - a.count || a.id - b.id);
  }

  top(u: number, n: number): number[] {
    return this.entries(u).slice(0, n).map((e) => e.id);
  }
}

export class ExactTokenMass implements TokenMassRanking {
  /** [token, unit] mass. */
  private readonly mass: Float32Array;

  constructor(readonly units: number, readonly vocabSize: number) {
    if (!Number.isInteger(units) || units < 1 || !Number.isInteger(vocabSize) || vocabSize < 1) throw new HeavyHitterError(`exact token mass: units and vocabSize must be positive integers, got ${units} and ${vocabSize}`);
    this.mass = new Float32Array(units * vocabSize);
  }

  /** Dense rows x[r·units + u]: row r's positive values go to token keys[r] (−1 = skip the row). */
  addDense(keys: ArrayLike<number>, rows: number, x: Float32Array): void {
    const U = this.units;
    const mass = this.mass;
    for (let r = 0; r < rows; r++) {
      const id = keys[r]!;
      if (id < 0) continue;
      if (!(id < this.vocabSize)) throw new HeavyHitterError(`exact token mass: token id ${id} is outside the vocabulary 0..${this.vocabSize - 1}`);
      const base = id * U;
      const off = r * U;
      for (let u = 0; u < U; u++) {
        const v = x[off + u]!;
        if (v > 0) mass[base + u]! += v;
      }
    }
  }

  massOf(u: number, id: number): number {
    return this.mass[id * this.units + u]!;
  }

  top(u: number, n: number): number[] {
    if (!(Number.isInteger(u) && u >= 0 && u < this.units)) throw new HeavyHitterError(`exact token mass: unit ${u} is not in 0..${this.units - 1}`);
    if (n <= 0) return [];
    // A running top-n by insertion (n is small); only ids with positive mass.
    const ids: number[] = [];
    const vals: number[] = [];
    for (let t = 0; t < this.vocabSize; t++) {
      const m = this.mass[t * this.units + u]!;
      if (!(m > 0) || (ids.length === n && m <= vals[n - 1]!)) continue;
      let i = Math.min(ids.length, n - 1);
      if (ids.length < n) { ids.push(t); vals.push(m); }
      while (i > 0 && vals[i - 1]! < m) { ids[i] = ids[i - 1]!; vals[i] = vals[i - 1]!; i--; }
      ids[i] = t;
      vals[i] = m;
    }
    return ids;
  }
}

/** Keys of a batch of rows: the token at each position, or the one before it (−1 at a sequence's first position). */
export function positionKeys(tokens: Int32Array, seqLen: number, previous: boolean): Int32Array {
  if (!previous) return tokens;
  const out = new Int32Array(tokens.length);
  for (let r = 0; r < tokens.length; r++) out[r] = r % seqLen === 0 ? -1 : tokens[r - 1]!;
  return out;
}

/** Bigram keys of a batch of rows: previous·vocabSize + token (−1 at a sequence's first position). */
export function pairKeys(tokens: Int32Array, seqLen: number, vocabSize: number): Float64Array {
  const out = new Float64Array(tokens.length);
  for (let r = 0; r < tokens.length; r++) out[r] = r % seqLen === 0 ? -1 : tokens[r - 1]! * vocabSize + tokens[r]!;
  return out;
}
