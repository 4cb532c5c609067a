/**
 * Validation loss of a transformer: mean next-token cross-entropy per scored token (nats), on a no-grad tape,
 * over all or a fixed subset of a domain's validation sequences. The targets are exactly those the n-gram
 * baselines are scored on (positions 1 … nCtx−1 of each sequence).
 */
import { Tape } from "../core/autograd.js";
import { sequenceCount, type TokenSequences } from "./baselines.js";
import { gatherBatch, IGNORE_TARGET, SequencePool } from "./train-data.js";
import type { HookedTransformer } from "./transformer.js";

export interface ValidationLoss {
  /** Mean cross-entropy per scored token, in nats (NaN when nothing was scored). */
  loss: number;
  sequences: number;
  /** Tokens scored: sequences × (nCtx − 1). */
  targets: number;
}

/**
 * Mean CE over the sequences at `indices` (default: all), `batch` sequences per forward pass. Chunk means are
 * weighted by their target counts, so the result is the per-token mean over the whole set.
 */
export function validationLoss(model: HookedTransformer, data: TokenSequences, batch: number, indices?: Int32Array): ValidationLoss {
  const pool = new SequencePool([data]);
  const all = indices ?? Int32Array.from({ length: sequenceCount(data) }, (_, i) => i);
  let total = 0;
  let targets = 0;
  for (let start = 0; start < all.length; start += batch) {
    const chunk = gatherBatch(pool, all.subarray(start, start + batch));
    const tape = Tape.noGrad();
    const scored = chunk.batch * (chunk.nCtx - 1);
    if (scored === 0) continue;
    const { loss } = model.forwardLoss(tape, chunk.inputs, chunk.batch, chunk.nCtx, chunk.targets, { ignoreIndex: IGNORE_TARGET });
    const mean = loss.value.item();
    total += mean * scored;
    targets += scored;
  }
  return { loss: targets === 0 ? NaN : total / targets, sequences: all.length, targets };
}
