// The data stage: corpus sources → deterministic splits → tokenizer → cached token shards.
export { DOMAINS, isDomain, type Document, type Domain } from "./document.js";
export {
  DEFAULT_CORPUS_SOURCES,
  corpusFingerprint,
  describeSource,
  loadCorpus,
  loadSource,
  summarizeCorpus,
  type CorpusSource,
  type DomainSize,
} from "./corpus.js";
export { loadSotu } from "./sources/sotu.js";
export { loadBrown } from "./sources/brown.js";
export { brownFileToText, detokenizeBrownTokens, stripBrownTag } from "./sources/brownText.js";
export { loadMobyDick } from "./sources/mobyDick.js";
export { loadPythonStdlib } from "./sources/pythonStdlib.js";
export { domainOfFile, loadTextDirectory } from "./sources/textDirectory.js";
export { loadJsonl } from "./sources/jsonl.js";
export { listZipEntries, readZipEntry, type ZipEntry } from "./zip.js";
export { DEFAULT_VALIDATION_FRACTION, SPLITS, assignSplit, splitCorpus, splitKey, type Split, type SplitCorpus } from "./split.js";
export { loadGpt2Tokenizer, loadTokenizerJson, type Tokenizer, type TokenizerJsonOptions } from "./tokenizer.js";
export {
  DEFAULT_N_CTX,
  buildTokenShards,
  defaultCorpusTokenCounts,
  defaultTokenCacheDir,
  type ShardProgress,
  type ShardStats,
  type TokenCounts,
  type TokenShardManifest,
  type TokenShardOptions,
  type TokenShards,
} from "./shards.js";
