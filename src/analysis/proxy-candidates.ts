/**
 * The candidates of the interpretability search (interpretability.ts) for one unit: from its top-activating examples,
 * then merged with the ids holding the most activation mass (heavy-hitters.ts).
 */
import type { TokenActivation } from "./feature-stats.js";
import {
  InterpretabilityError,
  MAX_BIGRAMS,
  MAX_CANDIDATE_TOKENS,
  MAX_PREVIOUS_CANDIDATES,
  MAX_TOP_BIGRAMS,
  MAX_TOP_TOKENS,
  type UnitCandidates,
} from "./interpretability.js";

/**
 * A unit's candidates from its top-activating examples: tokens ranked as given (rankTopTokens' order: the automatic
 * proxy's), bigrams = (previous, current) pairs of the examples, most frequent first (ties: the earlier example);
 * an example at position 0 has no previous token and gives no bigram. previous = the bigrams' previous ids.
 */
export function candidatesFromTop(rankedTokens: readonly number[], top: readonly TokenActivation[], tokens: Int32Array, seqLen: number): UnitCandidates {
  const pairs = new Map<string, { pair: [number, number]; count: number; first: number }>();
  top.forEach((e, i) => {
    if (e.position === 0) return;
    const at = e.sequence * seqLen + e.position;
    const pair: [number, number] = [tokens[at - 1]!, tokens[at]!];
    const key = `${pair[0]},${pair[1]}`;
    const seen = pairs.get(key);
    if (seen) seen.count += 1;
    else pairs.set(key, { pair, count: 1, first: i });
  });
  const bigrams = [...pairs.values()].sort((a, b) => b.count - a.count || a.first - b.first).map((p) => p.pair).slice(0, MAX_TOP_BIGRAMS);
  return { tokens: rankedTokens.slice(0, MAX_TOP_TOKENS), bigrams, previous: [...new Set(bigrams.map((b) => b[0]))] };
}

/** `first`, then the ids of `more` not in it, at most `cap` in all. */
function appendDistinct(first: readonly number[], more: readonly number[], cap: number): number[] {
  const out = first.slice(0, cap);
  const seen = new Set(out);
  for (const id of more) {
    if (out.length >= cap) break;
    if (!seen.has(id)) (seen.add(id), out.push(id));
  }
  return out;
}

/**
 * The merge rule of the two candidate sources: the top examples' candidates first (as before, so nothing they found
 * is lost), then the ids holding the most activation mass (heavy-hitters.ts' estimate, most first) not already there:
 * tokens up to MAX_TOP_TOKENS + MAX_MASS_TOKENS, previous tokens up to MAX_PREVIOUS_CANDIDATES, bigrams (given as
 * pair keys previous·vocabSize + current) up to MAX_BIGRAMS. The search then ranks every candidate by its exact mass
 * (pass 2), so this order only decides who is cut.
 */
export function mergeMassCandidates(top: UnitCandidates, massTokens: readonly number[], massPrevious: readonly number[], massPairs: readonly number[] = [], vocabSize = 0): UnitCandidates {
  if (massPairs.length > 0 && !(Number.isInteger(vocabSize) && vocabSize > 0)) throw new InterpretabilityError(`mergeMassCandidates: bigram keys need the vocabulary size, got ${vocabSize}`);
  const topKeys = top.bigrams.slice(0, MAX_TOP_BIGRAMS).map(([p, c]) => p * vocabSize + c);
  const keys = massPairs.length > 0 ? appendDistinct(topKeys, massPairs, MAX_BIGRAMS) : topKeys;
  return {
    tokens: appendDistinct(top.tokens.slice(0, MAX_TOP_TOKENS), massTokens, MAX_CANDIDATE_TOKENS),
    bigrams: massPairs.length > 0 ? keys.map((k) => [Math.floor(k / vocabSize), k % vocabSize] as const) : top.bigrams.slice(0, MAX_TOP_BIGRAMS),
    previous: appendDistinct(top.previous ?? [], massPrevious, MAX_PREVIOUS_CANDIDATES),
  };
}
