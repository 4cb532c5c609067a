/**
 * The evaluation tokens an investigation runs over: the validation split of each domain first (text the model
 * and the SAE never trained on), then, where the budget asks for more than validation holds, the training split.
 * The budget is shared equally by the domains (prose, code), so both kinds of text are represented.
 */
import type { TokenSequences } from "../model/baselines.js";
import type { CorpusSplits } from "../model/corpus-splits.js";

export interface EvaluationTokens {
  /** [sequences × seqLen] token ids. */
  tokens: Int32Array;
  seqLen: number;
  sequences: number;
  /** Consecutive sequence ranges per domain, and how many of them came from the validation split. */
  domains: { domain: string; firstSequence: number; sequences: number; validationSequences: number }[];
}

export const DEFAULT_EVALUATION_TOKENS = 1_048_576;
/** An investigation over fewer tokens than this says nothing (and must not replace one that does). */
export const MIN_EVALUATION_TOKENS = 256;

/** The corpus holds too few tokens to investigate; `tokens` is how many it held. */
export class EvaluationTokensError extends Error {
  override name = "EvaluationTokensError";
  constructor(readonly tokens: number, message: string) {
    super(message);
  }
}

function take(data: TokenSequences, sequences: number): Int32Array {
  return data.tokens.subarray(0, sequences * data.nCtx);
}

export function evaluationTokens(splits: CorpusSplits, totalTokens = DEFAULT_EVALUATION_TOKENS): EvaluationTokens {
  const domains = Object.keys(splits.validation) as (keyof CorpusSplits["validation"])[];
  const seqLen = splits.validation[domains[0]!].nCtx;
  if (!Number.isInteger(totalTokens) || totalTokens < seqLen) {
    throw new RangeError(`evaluation tokens: the budget must be an integer ≥ one sequence (${seqLen} tokens), got ${totalTokens}`);
  }
  const perDomain = Math.floor(totalTokens / seqLen / domains.length);
  const parts: Int32Array[] = [];
  const ranges: EvaluationTokens["domains"] = [];
  let first = 0;
  for (const domain of domains) {
    const val = splits.validation[domain];
    const train = splits.train[domain];
    const valSeqs = Math.min(perDomain, Math.floor(val.tokens.length / seqLen));
    const trainSeqs = Math.min(perDomain - valSeqs, Math.floor(train.tokens.length / seqLen));
    parts.push(take(val, valSeqs), take(train, trainSeqs));
    ranges.push({ domain, firstSequence: first, sequences: valSeqs + trainSeqs, validationSequences: valSeqs });
    first += valSeqs + trainSeqs;
  }
  if (first * seqLen < Math.min(MIN_EVALUATION_TOKENS, totalTokens)) {
    throw new EvaluationTokensError(first * seqLen, `evaluation tokens: the corpus holds ${first * seqLen} tokens (validation and training splits together); at least ${Math.min(MIN_EVALUATION_TOKENS, totalTokens)} are needed`);
  }
  const tokens = new Int32Array(first * seqLen);
  let at = 0;
  for (const p of parts) {
    tokens.set(p, at);
    at += p.length;
  }
  return { tokens, seqLen, sequences: first, domains: ranges };
}
