/**
 * N-gram baselines for the transformer's loss: a unigram and a bigram next-token model fitted on the same train
 * tokens the model sees and scored on the same targets (position t+1 of each sequence predicted from position t),
 * as mean cross-entropy per token in nats. A 1-layer transformer that does not beat the bigram has learnt little.
 *
 * Smoothing (so every loss is finite and the comparison is fair):
 *  - unigram: add-α, p(w) = (c(w) + α) / (N + α·V), over the whole vocabulary V;
 *  - bigram: interpolated absolute discounting (Ney, Essen & Kneser 1994) on top of that unigram,
 *      p(w | v) = (max(c(v,w) − D, 0) + D · T(v) · p(w)) / c(v)    when v was seen as a context,
 *      p(w | v) = p(w)                                              otherwise,
 *    with T(v) the number of distinct successors of v. For 0 ≤ D ≤ 1 it sums to 1 over w.
 * α and D are chosen to minimise the loss on a held-out slice of the *train* sequences (never validation), then
 * both models are refitted on all train sequences with those values.
 *
 * Counts are sparse: bigrams are keys prev·V + next (exact in a float64 up to V ≈ 9·10⁷), sorted and run-length
 * encoded, so memory is O(tokens), not O(V²).
 */

/** Token sequences [count, nCtx], row-major. Within a row, position t+1 is predicted from positions ≤ t. */
export interface TokenSequences {
  readonly tokens: Int32Array;
  readonly nCtx: number;
}

/** Number of sequences (rows) of a TokenSequences. */
export function sequenceCount(data: TokenSequences): number {
  return data.nCtx === 0 ? 0 : Math.floor(data.tokens.length / data.nCtx);
}

/** Number of scored targets: nCtx − 1 per sequence (the first position has nothing to be predicted from). */
export function targetCount(data: TokenSequences): number {
  return sequenceCount(data) * Math.max(0, data.nCtx - 1);
}

/** Which sequences of a list take part: (index within the list's sequences, counted across all arrays) → bool. */
type SequenceFilter = (globalIndex: number) => boolean;
const ALL: SequenceFilter = () => true;

function forEachSequence(data: readonly TokenSequences[], include: SequenceFilter, fn: (row: Int32Array) => void): void {
  let index = 0;
  for (const d of data) {
    const n = sequenceCount(d);
    for (let s = 0; s < n; s++, index++) {
      if (include(index)) fn(d.tokens.subarray(s * d.nCtx, (s + 1) * d.nCtx));
    }
  }
}

function checkToken(token: number, vocabSize: number): void {
  if (!(token >= 0 && token < vocabSize)) throw new RangeError(`baselines: token id ${token} is outside [0, ${vocabSize})`);
}

/** counts[w] = how often w is a target (positions 1 … nCtx−1). */
function countTargets(data: readonly TokenSequences[], vocabSize: number, include: SequenceFilter = ALL): Float64Array {
  const counts = new Float64Array(vocabSize);
  forEachSequence(data, include, (row) => {
    for (let t = 1; t < row.length; t++) {
      checkToken(row[t]!, vocabSize);
      counts[row[t]!]! += 1;
    }
  });
  return counts;
}

/** Distinct (prev, next) pairs as sorted keys prev·V + next, with their counts. */
interface PairCounts {
  keys: Float64Array;
  counts: Float64Array;
}

function countPairs(data: readonly TokenSequences[], vocabSize: number, include: SequenceFilter = ALL): PairCounts {
  let total = 0;
  forEachSequence(data, include, (row) => (total += Math.max(0, row.length - 1)));
  const keys = new Float64Array(total);
  let n = 0;
  forEachSequence(data, include, (row) => {
    for (let t = 1; t < row.length; t++) {
      checkToken(row[t - 1]!, vocabSize);
      checkToken(row[t]!, vocabSize);
      keys[n++] = row[t - 1]! * vocabSize + row[t]!;
    }
  });
  keys.sort();
  // Run-length encode in place.
  const counts = new Float64Array(total);
  let distinct = 0;
  for (let i = 0; i < total; i++) {
    if (distinct > 0 && keys[distinct - 1] === keys[i]) counts[distinct - 1]! += 1;
    else {
      keys[distinct] = keys[i]!;
      counts[distinct++] = 1;
    }
  }
  return { keys: keys.slice(0, distinct), counts: counts.slice(0, distinct) };
}

/** Index of key in sorted keys, or −1. */
function findKey(keys: Float64Array, key: number): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Add-α unigram model over a vocabulary of `vocabSize` ids. */
export class UnigramModel {
  readonly vocabSize: number;
  readonly alpha: number;
  /** Target counts per token id. */
  readonly counts: Float64Array;
  /** Σ counts. */
  readonly total: number;

  constructor(counts: Float64Array, alpha: number) {
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`UnigramModel: alpha must be a positive number, got ${alpha}`);
    this.vocabSize = counts.length;
    this.alpha = alpha;
    this.counts = counts;
    let total = 0;
    for (let w = 0; w < counts.length; w++) total += counts[w]!;
    this.total = total;
  }

  prob(next: number): number {
    return (this.counts[next]! + this.alpha) / (this.total + this.alpha * this.vocabSize);
  }

  /** Mean −log p(target) over the targets of `data` (nats per token); NaN when there are none. */
  loss(data: readonly TokenSequences[]): number {
    return unigramLossFromCounts(this.counts, this.total, this.alpha, countTargets(data, this.vocabSize));
  }
}

/** Held-out loss of an add-α unigram with train counts `counts` (sum `total`) on held-out target counts. */
function unigramLossFromCounts(counts: Float64Array, total: number, alpha: number, heldOut: Float64Array): number {
  const logDenominator = Math.log(total + alpha * counts.length);
  let nll = 0;
  let n = 0;
  for (let w = 0; w < heldOut.length; w++) {
    const h = heldOut[w]!;
    if (h === 0) continue;
    nll += h * (logDenominator - Math.log(counts[w]! + alpha));
    n += h;
  }
  return n === 0 ? NaN : nll / n;
}

/** Interpolated absolute-discounting bigram on top of a unigram model. */
export class BigramModel {
  readonly unigram: UnigramModel;
  readonly discount: number;
  readonly vocabSize: number;
  /** Sorted distinct keys prev·V + next and their counts. */
  readonly pairs: PairCounts;
  /** c(v): how often v is followed by anything. */
  readonly contextTotals: Float64Array;
  /** T(v): number of distinct successors of v. */
  readonly contextTypes: Float64Array;

  constructor(pairs: PairCounts, unigram: UnigramModel, discount: number) {
    if (!(discount >= 0 && discount <= 1)) throw new RangeError(`BigramModel: discount must be in [0, 1], got ${discount}`);
    this.unigram = unigram;
    this.discount = discount;
    this.vocabSize = unigram.vocabSize;
    this.pairs = pairs;
    this.contextTotals = new Float64Array(this.vocabSize);
    this.contextTypes = new Float64Array(this.vocabSize);
    for (let i = 0; i < pairs.keys.length; i++) {
      const prev = Math.floor(pairs.keys[i]! / this.vocabSize);
      this.contextTotals[prev]! += pairs.counts[i]!;
      this.contextTypes[prev]! += 1;
    }
  }

  /** The count c(prev, next) seen in training. */
  pairCount(prev: number, next: number): number {
    const i = findKey(this.pairs.keys, prev * this.vocabSize + next);
    return i < 0 ? 0 : this.pairs.counts[i]!;
  }

  prob(prev: number, next: number): number {
    return bigramProb(this.pairCount(prev, next), this.contextTotals[prev]!, this.contextTypes[prev]!, this.unigram.prob(next), this.discount);
  }

  /** Mean −log p(x_t | x_{t−1}) over the targets of `data` (nats per token); NaN when there are none. */
  loss(data: readonly TokenSequences[]): number {
    return bigramLossOf(this.heldOutTable(data), this.discount);
  }

  /** Everything the loss needs per distinct evaluated pair, so a loss for another D costs O(distinct pairs). */
  heldOutTable(data: readonly TokenSequences[], include: SequenceFilter = ALL): HeldOutPairs {
    const evalPairs = countPairs(data, this.vocabSize, include);
    const n = evalPairs.keys.length;
    const table: HeldOutPairs = {
      weight: evalPairs.counts,
      pairCount: new Float64Array(n),
      contextTotal: new Float64Array(n),
      contextTypes: new Float64Array(n),
      unigramProb: new Float64Array(n),
    };
    // Merge join: both key lists are sorted.
    const trainKeys = this.pairs.keys;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const key = evalPairs.keys[i]!;
      while (j < trainKeys.length && trainKeys[j]! < key) j++;
      const prev = Math.floor(key / this.vocabSize);
      const next = key - prev * this.vocabSize;
      table.pairCount[i] = j < trainKeys.length && trainKeys[j] === key ? this.pairs.counts[j]! : 0;
      table.contextTotal[i] = this.contextTotals[prev]!;
      table.contextTypes[i] = this.contextTypes[prev]!;
      table.unigramProb[i] = this.unigram.prob(next);
    }
    return table;
  }
}

interface HeldOutPairs {
  /** How often each distinct pair occurs in the evaluated data. */
  weight: Float64Array;
  pairCount: Float64Array;
  contextTotal: Float64Array;
  contextTypes: Float64Array;
  unigramProb: Float64Array;
}

function bigramProb(pairCount: number, contextTotal: number, contextTypes: number, unigramProb: number, discount: number): number {
  if (contextTotal === 0) return unigramProb;
  return (Math.max(pairCount - discount, 0) + discount * contextTypes * unigramProb) / contextTotal;
}

function bigramLossOf(t: HeldOutPairs, discount: number): number {
  let nll = 0;
  let n = 0;
  for (let i = 0; i < t.weight.length; i++) {
    nll -= t.weight[i]! * Math.log(bigramProb(t.pairCount[i]!, t.contextTotal[i]!, t.contextTypes[i]!, t.unigramProb[i]!, discount));
    n += t.weight[i]!;
  }
  return n === 0 ? NaN : nll / n;
}

/** Add-α unigram fitted on the targets of `data`. */
export function fitUnigram(data: readonly TokenSequences[], vocabSize: number, alpha = 1): UnigramModel {
  checkVocabSize(vocabSize);
  return new UnigramModel(countTargets(data, vocabSize), alpha);
}

/** Absolute-discounting bigram with discount D, fitted on the pairs of `data`, backing off to `unigram`. */
export function fitBigram(data: readonly TokenSequences[], unigram: UnigramModel, discount = 0.75): BigramModel {
  return new BigramModel(countPairs(data, unigram.vocabSize), unigram, discount);
}

function checkVocabSize(vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`baselines: vocabSize must be a positive integer, got ${vocabSize}`);
}

/**
 * Minimises f on [lo, hi]: a coarse grid, then golden-section search between the best grid point's neighbours.
 * The held-out losses here are smooth and unimodal in practice; the grid guards against a poor start.
 */
export function minimizeScalar(f: (x: number) => number, lo: number, hi: number, gridPoints = 12, iterations = 40): { x: number; value: number } {
  const grid = Array.from({ length: gridPoints }, (_, i) => lo + ((hi - lo) * i) / (gridPoints - 1));
  const values = grid.map(f);
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (values[i]! < values[best]!) best = i;
  let a = grid[Math.max(0, best - 1)]!;
  let b = grid[Math.min(grid.length - 1, best + 1)]!;
  const phi = (Math.sqrt(5) - 1) / 2;
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < iterations; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = f(d);
    }
  }
  const x = fc < fd ? c : d;
  const value = Math.min(fc, fd);
  return value <= values[best]! ? { x, value } : { x: grid[best]!, value: values[best]! };
}

/** Fallbacks when the train split is too small to hold any sequence out: Laplace and the usual D = 0.75. */
export const DEFAULT_UNIGRAM_ALPHA = 1;
export const DEFAULT_BIGRAM_DISCOUNT = 0.75;
/** Every HELD_OUT_EVERY-th train sequence (across domains) tunes α and D. */
export const DEFAULT_HELD_OUT_EVERY = 10;

export interface BaselineFit {
  unigram: UnigramModel;
  bigram: BigramModel;
  /** How α and D were chosen: on held-out train sequences, or the defaults when there were none. */
  tuning: {
    method: "held-out-train" | "defaults";
    heldOutSequences: number;
    heldOutTargets: number;
    /** Losses on the held-out sequences of the models fitted without them (NaN with the defaults). */
    heldOutUnigramLoss: number;
    heldOutBigramLoss: number;
  };
}

/**
 * Fits both baselines on the train sequences: α and D minimise the loss on every `heldOutEvery`-th sequence
 * with counts from the others; then both models are refitted on all sequences with the chosen values.
 */
export function fitBaselines(train: readonly TokenSequences[], vocabSize: number, options: { heldOutEvery?: number } = {}): BaselineFit {
  checkVocabSize(vocabSize);
  const every = options.heldOutEvery ?? DEFAULT_HELD_OUT_EVERY;
  if (!Number.isInteger(every) || every < 2) throw new RangeError(`fitBaselines: heldOutEvery must be an integer ≥ 2, got ${every}`);
  const isHeldOut: SequenceFilter = (i) => i % every === every - 1;
  const isFitted: SequenceFilter = (i) => !isHeldOut(i);

  const heldOutTargets = countTargets(train, vocabSize, isHeldOut);
  let heldOutCount = 0;
  for (let w = 0; w < vocabSize; w++) heldOutCount += heldOutTargets[w]!;
  let heldOutSequences = 0;
  forEachSequence(train, isHeldOut, () => heldOutSequences++);

  let alpha = DEFAULT_UNIGRAM_ALPHA;
  let discount = DEFAULT_BIGRAM_DISCOUNT;
  let heldOutUnigramLoss = NaN;
  let heldOutBigramLoss = NaN;
  const fittedCounts = countTargets(train, vocabSize, isFitted);
  let fittedTotal = 0;
  for (let w = 0; w < vocabSize; w++) fittedTotal += fittedCounts[w]!;
  if (heldOutCount > 0 && fittedTotal > 0) {
    // α on a log scale, 10^-8 … 10^2: with a large vocabulary mostly unused, the best α can be tiny.
    const a = minimizeScalar((logAlpha) => unigramLossFromCounts(fittedCounts, fittedTotal, 10 ** logAlpha, heldOutTargets), -8, 2, 21);
    alpha = 10 ** a.x;
    heldOutUnigramLoss = a.value;
    const partialBigram = new BigramModel(countPairs(train, vocabSize, isFitted), new UnigramModel(fittedCounts, alpha), discount);
    const table = partialBigram.heldOutTable(train, isHeldOut);
    const d = minimizeScalar((x) => bigramLossOf(table, x), 0.001, 1);
    discount = d.x;
    heldOutBigramLoss = d.value;
  }
  const unigram = fitUnigram(train, vocabSize, alpha);
  const bigram = fitBigram(train, unigram, discount);
  return {
    unigram,
    bigram,
    tuning: {
      method: Number.isNaN(heldOutUnigramLoss) ? "defaults" : "held-out-train",
      heldOutSequences,
      heldOutTargets: heldOutCount,
      heldOutUnigramLoss,
      heldOutBigramLoss,
    },
  };
}

/** Baseline losses on one evaluation set (nats per token over its targets; NaN when it has none). */
export interface BaselineLosses {
  unigram: number;
  bigram: number;
  targets: number;
}

export function baselineLosses(fit: BaselineFit, data: TokenSequences): BaselineLosses {
  return { unigram: fit.unigram.loss([data]), bigram: fit.bigram.loss([data]), targets: targetCount(data) };
}
