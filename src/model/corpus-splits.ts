/**
 * The default corpus (or the user's sources) as token sequences per domain and split, at a model's n_ctx —
 * what SAE training, evaluation and analysis read. Tokenised shards come from the on-disk cache when present.
 */
import { DEFAULT_CORPUS_SOURCES, type CorpusSource } from "../data/corpus.js";
import { DOMAINS, type Domain } from "../data/document.js";
import { buildTokenShards, type ShardProgress } from "../data/shards.js";
import { loadGpt2Tokenizer } from "../data/tokenizer.js";
import type { TokenSequences } from "./baselines.js";
import type { ModelConfig } from "./config.js";
import { recutSequences } from "./train-data.js";

export interface CorpusSplits {
  train: Record<Domain, TokenSequences>;
  validation: Record<Domain, TokenSequences>;
}

export function loadCorpusSplits(cfg: ModelConfig, options: { cacheDir?: string; sources?: readonly CorpusSource[]; onProgress?: (p: ShardProgress) => void } = {}): CorpusSplits {
  if (cfg.tokenizer_name !== "gpt2") {
    throw new Error(`the model's tokenizer is "${cfg.tokenizer_name}"; saekit's corpus loader only tokenises with gpt2 (the default models' tokenizer)`);
  }
  const shards = buildTokenShards({
    tokenizer: loadGpt2Tokenizer(),
    sources: options.sources ?? DEFAULT_CORPUS_SOURCES,
    nCtx: cfg.n_ctx,
    cacheDir: options.cacheDir,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const split = (name: "train" | "validation") =>
    Object.fromEntries(DOMAINS.map((d) => [d, recutSequences(shards.read(d, name), cfg.n_ctx)])) as Record<Domain, TokenSequences>;
  return { train: split("train"), validation: split("validation") };
}
