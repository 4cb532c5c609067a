/**
 * An interpretability score for every unit (feature or neuron), without a language model: an automatic search over
 * simple explanations ("proxies") of where the unit fires, keeping the one that best explains it.
 *
 * A proxy P is a set of token occurrences. Over the evaluation tokens, with a_t ≥ 0 the unit's activation at t:
 *   spec(P)  = Σ_{t ∈ P} a_t / Σ_t a_t                 (mass specificity: share of the activation mass on P)
 *   sens(P)  = #{t ∈ P : a_t > 0} / #{t ∈ P}           (sensitivity: share of P's occurrences where the unit fires)
 *   score(P) = 2·spec·sens / (spec + sens)             (their F1; 0 when both are 0)
 * These are proxy-stats.ts' specificity and sensitivity for a 0/1 proxy (the same numbers TokenSetProxyBins reports
 * for a token set), so a unit's best proxy can be read against its dashboard's proxy panel.
 *
 * Candidates per unit: candidate tokens C (the distinct ids of its top-activating examples, ranked as the automatic
 * proxy ranks them, at most MAX_TOP_TOKENS, then the ids holding the most of its activation mass over the evaluation
 * tokens — pass 1's heavy-hitter estimate, heavy-hitters.ts — up to MAX_CANDIDATE_TOKENS: mergeMassCandidates),
 * candidate bigrams (the (previous, current) id pairs of its top examples, most frequent first, at most
 * MAX_TOP_BIGRAMS, then the pairs holding the most mass, up to MAX_BIGRAMS; features only: a neuron's pairs are its
 * top examples') and candidate previous tokens (the bigrams' previous ids, then the previous-token ids holding the
 * most mass, at most MAX_PREVIOUS_CANDIDATES):
 *   - top-k token sets, k = 1 … 5: the k ids of C holding the most activation mass;
 *   - the same restricted to one domain (prose or code): the token is one of the k ids holding the most mass in that
 *     domain, inside that domain's text;
 *   - bigram sets, k = 1 … 5: the token is the second of one of the k pairs holding the most mass, preceded by the first
 *     (a token conditioned on the previous token);
 *   - "after" sets, k = 1 … 5: the token follows (in the same sequence) one of the k candidate previous tokens holding
 *     the most mass ("fires after X", whatever the token itself is).
 * The best candidate by score is kept (ties: the simpler candidate, in the order listed; smaller k first).
 *
 * Streaming: ProxySearch accumulates, one evaluation position at a time, the activation mass and the firing count of
 * every (unit, candidate token, domain), (unit, candidate previous token) and (unit, candidate bigram), the
 * occurrences of every token per domain, the positions following every token, the occurrences of every candidate
 * bigram (one hash lookup per position over the distinct candidate pairs of all units), and each unit's total mass.
 * Sparse rows (features) look each firing unit's token, previous token and pair up among its sorted candidates
 * (binary search); dense rows (neurons) go through inverted indexes (token → units that have it as a candidate).
 * Never a dense [tokens × units] matrix.
 *
 * Neighbours: proxy-candidates.ts builds each unit's candidates; interpretability-summary.ts writes the result as the
 * store and the summaries carry it.
 */

export class InterpretabilityError extends Error {
  override name = "InterpretabilityError";
}

/** Candidate tokens taken from a unit's top examples (their ranking). */
export const MAX_TOP_TOKENS = 12;
/** Candidate tokens added from the unit's mass heavy hitters (heavy-hitters.ts), after the top examples' ones. */
export const MAX_MASS_TOKENS = 16;
/** Candidate tokens kept per unit. */
export const MAX_CANDIDATE_TOKENS = MAX_TOP_TOKENS + MAX_MASS_TOKENS;
/** The largest token set tried (top-1 … top-5). */
export const MAX_SET_SIZE = 5;
/** Candidate bigrams taken from a unit's top examples (their most frequent pairs). */
export const MAX_TOP_BIGRAMS = 3;
/** Candidate bigrams kept per unit: the top examples' ones, then the pairs holding the most mass (heavy-hitters.ts). */
export const MAX_BIGRAMS = 12;
/** Candidate previous tokens ("fires after X") kept per unit. */
export const MAX_PREVIOUS_CANDIDATES = 12;
/** The threshold of the summary's "spec ≥ 0.8 and sens ≥ 0.8" share. */
export const SPEC_SENS_THRESHOLD = 0.8;
/** Bins of the score histogram on [0, 1]. */
export const SCORE_HISTOGRAM_BINS = 20;

export type ProxyKind = "tokens" | "tokens-domain" | "bigram" | "after";
/** Every kind, in the search's tie-break order (on an equal score the earlier kind wins). */
export const PROXY_KINDS: readonly ProxyKind[] = ["tokens", "tokens-domain", "bigram", "after"];

/** Per unit, what the search is allowed to try. */
export interface UnitCandidates {
  /** Distinct token ids, most promising first (only the first MAX_CANDIDATE_TOKENS are used). */
  tokens: readonly number[];
  /** Distinct [previous, current] id pairs (only the first MAX_BIGRAMS are used). */
  bigrams: readonly (readonly [number, number])[];
  /** Distinct previous-token ids for the "after" sets (only the first MAX_PREVIOUS_CANDIDATES are used); none: no such set. */
  previous?: readonly number[];
}

/** A unit's best proxy. */
export interface UnitInterpretability {
  score: number;
  spec: number;
  sens: number;
  kind: ProxyKind;
  /** The proxy's token ids (for a bigram set, the current tokens of its pairs; for an "after" set, the previous tokens). */
  ids: number[];
  /** For a bigram set, the previous token of each pair (same order as ids). */
  previous?: number[];
  /** For a domain-restricted set, the domain's name. */
  domain?: string;
}

/** The F1 of specificity and sensitivity (0 when both are 0). */
export function f1(spec: number, sens: number): number {
  return spec + sens > 0 ? (2 * spec * sens) / (spec + sens) : 0;
}

/** CSR lists keyed by token id. */
interface Inverted {
  start: Int32Array;
  entries: Int32Array;
}

function invert(vocabSize: number, lists: readonly (readonly number[])[], slots: number, what: string): Inverted {
  const start = new Int32Array(vocabSize + 1);
  lists.forEach((ids, u) => {
    for (const id of ids.slice(0, slots)) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new InterpretabilityError(`proxy search: ${what} id ${id} of unit ${u} is outside the vocabulary 0..${vocabSize - 1}`);
      start[id + 1]! += 1;
    }
  });
  for (let t = 0; t < vocabSize; t++) start[t + 1]! += start[t]!;
  const fill = start.slice(0, vocabSize);
  const entries = new Int32Array(start[vocabSize]!);
  lists.forEach((ids, u) => ids.slice(0, slots).forEach((id, slot) => (entries[fill[id]!++] = u * slots + slot)));
  return { start, entries };
}

/**
 * Per unit, its candidate ids (or bigram keys) ascending with their slots (padded with +∞), for a firing unit's binary search:
 * the sparse path's cost is the row's non-zeros × log(slots), not the length of the token's inverted list (which
 * for a common token holds a large share of the units once the mass candidates are in).
 */
interface SortedSlots {
  ids: Float64Array;
  slots: Uint8Array;
}

function sortSlots(lists: readonly (readonly number[])[], slots: number): SortedSlots {
  const ids = new Float64Array(lists.length * slots).fill(Infinity);
  const slotOf = new Uint8Array(lists.length * slots);
  lists.forEach((list, u) => {
    const order = list.slice(0, slots).map((id, s) => [id, s] as const).sort((a, b) => a[0] - b[0]);
    order.forEach(([id, s], i) => ((ids[u * slots + i] = id), (slotOf[u * slots + i] = s)));
  });
  return { ids, slots: slotOf };
}

/** The slot of id among unit u's sorted candidates, or −1. */
function findSlot(sorted: SortedSlots, slots: number, u: number, id: number): number {
  let lo = u * slots;
  let hi = lo + slots - 1;
  const ids = sorted.ids;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = ids[mid]!;
    if (x === id) return sorted.slots[mid]!;
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export interface ProxySearchOptions {
  /** The largest token / "after" set tried (default MAX_SET_SIZE). */
  maxSetSize?: number;
}

/** Accumulates the candidates' statistics over the evaluation tokens and picks each unit's best proxy (module doc). */
export class ProxySearch {
  readonly units: number;
  readonly domains: number;
  readonly maxSetSize: number;
  private readonly tokenIds: Int32Array;
  private readonly tokenCount: Int32Array;
  private readonly prevIds: Int32Array;
  private readonly prevCount: Int32Array;
  private readonly pairPrev: Int32Array;
  private readonly pairCur: Int32Array;
  private readonly pairCount: Int32Array;
  private readonly byToken: Inverted;
  private readonly byPrev: Inverted;
  private readonly byPairCur: Inverted;
  private readonly sortedTokens: SortedSlots;
  private readonly sortedPrev: SortedSlots;
  /** [unit, slot, domain] firing mass and firing count of the candidate tokens. */
  private readonly tokenMass: Float64Array;
  private readonly tokenFired: Float64Array;
  /** [token, domain] occurrences. */
  private readonly occurrences: Float64Array;
  /** [token] positions that follow the token (in the same sequence). */
  private readonly followers: Float64Array;
  /** [unit, slot] firing mass and firing count at the positions following the candidate previous tokens. */
  private readonly afterMass: Float64Array;
  private readonly afterFired: Float64Array;
  private readonly sortedPairs: SortedSlots;
  /** [unit, pair] firing mass and firing count of the candidate bigrams. */
  private readonly pairMass: Float64Array;
  private readonly pairFired: Float64Array;
  /** Every distinct candidate bigram (key previous·V + current → index) and its occurrences; [unit, pair] → index. */
  private readonly pairIndexOfKey: Map<number, number>;
  private readonly pairOccurrences: Float64Array;
  private readonly pairIndex: Int32Array;
  private readonly totalMass: Float64Array;

  constructor(candidates: readonly UnitCandidates[], readonly vocabSize: number, readonly domainNames: readonly string[], options: ProxySearchOptions = {}) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new InterpretabilityError(`proxy search: vocabSize must be a positive integer, got ${vocabSize}`);
    if (domainNames.length < 1) throw new InterpretabilityError("proxy search: at least one domain is needed");
    const maxSet = options.maxSetSize ?? MAX_SET_SIZE;
    if (!Number.isInteger(maxSet) || maxSet < 1) throw new InterpretabilityError(`proxy search: maxSetSize must be a positive integer, got ${maxSet}`);
    this.maxSetSize = maxSet;
    const U = (this.units = candidates.length);
    const D = (this.domains = domainNames.length);
    const S = MAX_CANDIDATE_TOKENS;
    const A = MAX_PREVIOUS_CANDIDATES;
    const P = MAX_BIGRAMS;
    this.tokenIds = new Int32Array(U * S).fill(-1);
    this.tokenCount = new Int32Array(U);
    this.prevIds = new Int32Array(U * A).fill(-1);
    this.prevCount = new Int32Array(U);
    this.pairPrev = new Int32Array(U * P).fill(-1);
    this.pairCur = new Int32Array(U * P).fill(-1);
    this.pairCount = new Int32Array(U);
    candidates.forEach((c, u) => {
      const ids = c.tokens.slice(0, S);
      if (new Set(ids).size !== ids.length) throw new InterpretabilityError(`proxy search: unit ${u}'s candidate tokens repeat an id`);
      ids.forEach((id, s) => (this.tokenIds[u * S + s] = id));
      this.tokenCount[u] = ids.length;
      const prev = (c.previous ?? []).slice(0, A);
      if (new Set(prev).size !== prev.length) throw new InterpretabilityError(`proxy search: unit ${u}'s candidate previous tokens repeat an id`);
      prev.forEach((id, s) => (this.prevIds[u * A + s] = id));
      this.prevCount[u] = prev.length;
      const pairs = c.bigrams.slice(0, P);
      if (new Set(pairs.map(([a, b]) => `${a},${b}`)).size !== pairs.length) throw new InterpretabilityError(`proxy search: unit ${u}'s candidate bigrams repeat a pair`);
      pairs.forEach(([prev, cur], p) => {
        if (!Number.isInteger(prev) || prev < 0 || prev >= vocabSize) throw new InterpretabilityError(`proxy search: previous id ${prev} of unit ${u}'s bigram ${p} is outside the vocabulary`);
        this.pairPrev[u * P + p] = prev;
        this.pairCur[u * P + p] = cur;
      });
      this.pairCount[u] = pairs.length;
    });
    this.byToken = invert(vocabSize, candidates.map((c) => c.tokens), S, "candidate token");
    this.byPrev = invert(vocabSize, candidates.map((c) => c.previous ?? []), A, "candidate previous token");
    this.byPairCur = invert(vocabSize, candidates.map((c) => c.bigrams.map((b) => b[1])), P, "bigram");
    this.sortedTokens = sortSlots(candidates.map((c) => c.tokens), S);
    this.sortedPrev = sortSlots(candidates.map((c) => c.previous ?? []), A);
    this.tokenMass = new Float64Array(U * S * D);
    this.tokenFired = new Float64Array(U * S * D);
    this.occurrences = new Float64Array(vocabSize * D);
    this.followers = new Float64Array(vocabSize);
    this.afterMass = new Float64Array(U * A);
    this.afterFired = new Float64Array(U * A);
    this.sortedPairs = sortSlots(candidates.map((c) => c.bigrams.map(([p, q]) => p * vocabSize + q)), P);
    this.pairMass = new Float64Array(U * P);
    this.pairFired = new Float64Array(U * P);
    this.pairIndexOfKey = new Map();
    this.pairIndex = new Int32Array(U * P).fill(-1);
    for (let c = 0; c < U * P; c++) {
      if (this.pairPrev[c]! < 0) continue;
      const key = this.pairPrev[c]! * vocabSize + this.pairCur[c]!;
      let i = this.pairIndexOfKey.get(key);
      if (i === undefined) this.pairIndexOfKey.set(key, (i = this.pairIndexOfKey.size));
      this.pairIndex[c] = i;
    }
    this.pairOccurrences = new Float64Array(this.pairIndexOfKey.size);
    this.totalMass = new Float64Array(U);
  }

  private checkPosition(token: number, previous: number, domain: number): void {
    if (!(token >= 0 && token < this.vocabSize && Number.isInteger(token))) throw new InterpretabilityError(`proxy search: token id ${token} is outside the vocabulary 0..${this.vocabSize - 1}`);
    if (!(previous >= -1 && previous < this.vocabSize && Number.isInteger(previous))) throw new InterpretabilityError(`proxy search: previous token id ${previous} is neither −1 nor in the vocabulary 0..${this.vocabSize - 1}`);
    if (!(domain >= 0 && domain < this.domains && Number.isInteger(domain))) throw new InterpretabilityError(`proxy search: domain ${domain} is not one of 0..${this.domains - 1}`);
    this.occurrences[token * this.domains + domain]! += 1;
    if (previous >= 0) {
      this.followers[previous]! += 1;
      const i = this.pairIndexOfKey.get(previous * this.vocabSize + token);
      if (i !== undefined) this.pairOccurrences[i]! += 1;
    }
  }

  /**
   * One position from sparse codes: the units indices[start .. end) fire with values[start .. end) (> 0). previous
   * is the id of the position before in the same sequence, or −1 at a sequence's first position.
   */
  addSparse(token: number, previous: number, domain: number, indices: Int32Array, values: Float32Array, start: number, end: number): void {
    this.checkPosition(token, previous, domain);
    const D = this.domains;
    const S = MAX_CANDIDATE_TOKENS;
    const A = MAX_PREVIOUS_CANDIDATES;
    const P = MAX_BIGRAMS;
    const pairKey = previous * this.vocabSize + token;
    for (let e = start; e < end; e++) {
      const u = indices[e]!;
      const v = values[e]!;
      if (!(v > 0)) continue;
      this.totalMass[u]! += v;
      const s = findSlot(this.sortedTokens, S, u, token);
      if (s >= 0) {
        const cell = (u * S + s) * D + domain;
        this.tokenMass[cell]! += v;
        this.tokenFired[cell]! += 1;
      }
      if (previous >= 0) {
        const a = findSlot(this.sortedPrev, A, u, previous);
        if (a >= 0) {
          this.afterMass[u * A + a]! += v;
          this.afterFired[u * A + a]! += 1;
        }
        const p = findSlot(this.sortedPairs, P, u, pairKey);
        if (p >= 0) {
          this.pairMass[u * P + p]! += v;
          this.pairFired[u * P + p]! += 1;
        }
      }
    }
  }

  /** One position from a dense row: unit u's activation is row[offset + u]; only positive values count as firing. */
  addDense(token: number, previous: number, domain: number, row: Float32Array, offset: number): void {
    this.checkPosition(token, previous, domain);
    const D = this.domains;
    for (let u = 0; u < this.units; u++) {
      const v = row[offset + u]!;
      if (v > 0) this.totalMass[u]! += v;
    }
    // Dense rows (neurons: few units) go through the inverted lists: the token's candidate units only.
    const { start, entries } = this.byToken;
    for (let e = start[token]!, end = start[token + 1]!; e < end; e++) {
      const cell = entries[e]!; // unit·S + slot
      const v = row[offset + Math.floor(cell / MAX_CANDIDATE_TOKENS)]!;
      if (v > 0) {
        this.tokenMass[cell * D + domain]! += v;
        this.tokenFired[cell * D + domain]! += 1;
      }
    }
    if (previous >= 0) {
      const after = this.byPrev;
      for (let e = after.start[previous]!, end = after.start[previous + 1]!; e < end; e++) {
        const cell = after.entries[e]!; // unit·A + slot
        const v = row[offset + Math.floor(cell / MAX_PREVIOUS_CANDIDATES)]!;
        if (v > 0) {
          this.afterMass[cell]! += v;
          this.afterFired[cell]! += 1;
        }
      }
    }
    if (previous >= 0) {
      const pairs = this.byPairCur;
      for (let e = pairs.start[token]!, end = pairs.start[token + 1]!; e < end; e++) {
        const cell = pairs.entries[e]!; // unit·P + pair
        if (this.pairPrev[cell] !== previous) continue;
        const v = row[offset + Math.floor(cell / MAX_BIGRAMS)]!;
        if (v > 0) {
          this.pairMass[cell]! += v;
          this.pairFired[cell]! += 1;
        }
      }
    }
  }

  /**
   * Unit u's best proxy among sets of at most maxSetSize (default: the search's); a unit that never fired gets score,
   * spec and sens 0 and an empty top-1 set. Ties: the earlier candidate in the order tokens (k = 1, 2, …),
   * tokens-domain (domain by domain), bigram, after — the simpler explanation first.
   */
  best(u: number, maxSetSize: number = this.maxSetSize): UnitInterpretability {
    if (!(Number.isInteger(u) && u >= 0 && u < this.units)) throw new InterpretabilityError(`proxy search: unit ${u} is not in 0..${this.units - 1}`);
    const S = MAX_CANDIDATE_TOKENS;
    const D = this.domains;
    const M = this.totalMass[u]!;
    let best: UnitInterpretability = { score: 0, spec: 0, sens: 0, kind: "tokens", ids: [] };
    if (!(M > 0)) return best;
    const consider = (mass: number, fired: number, occurrences: number, make: () => Omit<UnitInterpretability, "score" | "spec" | "sens">) => {
      const spec = mass / M;
      const sens = occurrences > 0 ? fired / occurrences : 0;
      const score = f1(spec, sens);
      if (score > best.score) best = { score, spec, sens, ...make() };
    };
    const slots = Array.from({ length: this.tokenCount[u]! }, (_, s) => s);
    const cell = (s: number, d: number) => (u * S + s) * D + d;
    const id = (s: number) => this.tokenIds[u * S + s]!;
    // Token sets over all domains: prefixes of the slots ranked by mass.
    const massAll = (s: number) => { let m = 0; for (let d = 0; d < D; d++) m += this.tokenMass[cell(s, d)]!; return m; };
    const byMass = [...slots].sort((a, b) => massAll(b) - massAll(a) || a - b);
    let mass = 0, fired = 0, occ = 0;
    for (let k = 0; k < Math.min(maxSetSize, byMass.length); k++) {
      const s = byMass[k]!;
      for (let d = 0; d < D; d++) {
        mass += this.tokenMass[cell(s, d)]!;
        fired += this.tokenFired[cell(s, d)]!;
        occ += this.occurrences[id(s) * D + d]!;
      }
      const ids = byMass.slice(0, k + 1).map(id);
      consider(mass, fired, occ, () => ({ kind: "tokens", ids }));
    }
    // The same inside one domain (only meaningful when there is more than one).
    if (D > 1) {
      for (let d = 0; d < D; d++) {
        const ranked = [...slots].sort((a, b) => this.tokenMass[cell(b, d)]! - this.tokenMass[cell(a, d)]! || a - b);
        mass = 0; fired = 0; occ = 0;
        for (let k = 0; k < Math.min(maxSetSize, ranked.length); k++) {
          const s = ranked[k]!;
          mass += this.tokenMass[cell(s, d)]!;
          fired += this.tokenFired[cell(s, d)]!;
          occ += this.occurrences[id(s) * D + d]!;
          const ids = ranked.slice(0, k + 1).map(id);
          consider(mass, fired, occ, () => ({ kind: "tokens-domain", ids, domain: this.domainNames[d]! }));
        }
      }
    }
    // Bigram sets.
    const P = MAX_BIGRAMS;
    const pairs = Array.from({ length: this.pairCount[u]! }, (_, p) => p).sort((a, b) => this.pairMass[u * P + b]! - this.pairMass[u * P + a]! || a - b);
    mass = 0; fired = 0; occ = 0;
    for (let k = 0; k < Math.min(maxSetSize, pairs.length); k++) {
      const c = u * P + pairs[k]!;
      mass += this.pairMass[c]!;
      fired += this.pairFired[c]!;
      occ += this.pairOccurrences[this.pairIndex[c]!]!;
      const chosen = pairs.slice(0, k + 1).map((p) => u * P + p);
      consider(mass, fired, occ, () => ({ kind: "bigram", ids: chosen.map((x) => this.pairCur[x]!), previous: chosen.map((x) => this.pairPrev[x]!) }));
    }
    // "After" sets: the token follows one of the k previous tokens holding the most mass.
    const A = MAX_PREVIOUS_CANDIDATES;
    const after = Array.from({ length: this.prevCount[u]! }, (_, a) => a).sort((a, b) => this.afterMass[u * A + b]! - this.afterMass[u * A + a]! || a - b);
    mass = 0; fired = 0; occ = 0;
    for (let k = 0; k < Math.min(maxSetSize, after.length); k++) {
      const c = u * A + after[k]!;
      mass += this.afterMass[c]!;
      fired += this.afterFired[c]!;
      occ += this.followers[this.prevIds[c]!]!;
      const ids = after.slice(0, k + 1).map((a) => this.prevIds[u * A + a]!);
      consider(mass, fired, occ, () => ({ kind: "after", ids }));
    }
    return best;
  }

  /** Every unit's best proxy (sets of at most maxSetSize). */
  results(maxSetSize: number = this.maxSetSize): UnitInterpretability[] {
    return Array.from({ length: this.units }, (_, u) => this.best(u, maxSetSize));
  }
}
