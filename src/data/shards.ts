import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { endianness, homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";
import { corpusFingerprint, DEFAULT_CORPUS_SOURCES, describeSource, loadCorpus, type CorpusSource } from "./corpus.js";
import { DOMAINS, type Document, type Domain } from "./document.js";
import { DEFAULT_VALIDATION_FRACTION, splitCorpus, SPLITS, type Split } from "./split.js";
import { loadGpt2Tokenizer, type Tokenizer } from "./tokenizer.js";

/**
 * Token shards: for each domain and split, the documents' tokens laid end to end, each document preceded by the
 * end-of-text token (so every document starts from the same "fresh context" token and documents are separated),
 * then cut into sequences of exactly nCtx tokens. The final remainder (< nCtx tokens) is dropped rather than padded,
 * so every position of every sequence is real text the model and the feature statistics can use.
 *
 * On disk, under cacheDir/<key>/: one raw little-endian int32 file per domain and split ("prose.train.bin",
 * shape [sequences, nCtx], row-major) and manifest.json, written last, so a folder with a manifest is complete.
 * The key hashes the corpus content, the tokenizer fingerprint, nCtx and the validation fraction.
 */

export const DEFAULT_N_CTX = 128;
const FORMAT = "saekit-token-shards";
const FORMAT_VERSION = 1;

export interface ShardStats {
  /** The shard's file name inside the cache folder. */
  file: string;
  documents: number;
  characters: number;
  /** All tokens of the split, end-of-text separators included, before cutting into sequences. */
  tokens: number;
  sequences: number;
  /** Tokens kept in sequences: sequences × nCtx. */
  keptTokens: number;
}

export interface TokenShardManifest {
  format: typeof FORMAT;
  version: typeof FORMAT_VERSION;
  key: string;
  createdAt: string;
  tokenizer: { name: string; fingerprint: string; vocabSize: number; eotId: number };
  nCtx: number;
  validationFraction: number;
  layout: "eot-before-each-document, remainder-dropped, int32-le";
  sources: string[];
  corpusFingerprint: string;
  shards: Record<Domain, Record<Split, ShardStats>>;
}

export interface TokenShards {
  /** The cache folder holding the shard files. */
  dir: string;
  manifest: TokenShardManifest;
  /** True when everything came from the cache and nothing was tokenised. */
  fromCache: boolean;
  /** The shard's tokens, [sequences, nCtx] row-major. */
  read(domain: Domain, split: Split): Int32Array;
}

export interface ShardProgress {
  domain: Domain;
  split: Split;
  documentsDone: number;
  documentsTotal: number;
}

export interface TokenShardOptions {
  tokenizer: Tokenizer;
  /** Where the text comes from; defaults to DEFAULT_CORPUS_SOURCES. */
  sources?: readonly CorpusSource[];
  /** Already-loaded documents instead of sources (e.g. from a notebook). */
  documents?: readonly Document[];
  nCtx?: number;
  validationFraction?: number;
  /** Defaults to defaultTokenCacheDir(). */
  cacheDir?: string;
  onProgress?: (progress: ShardProgress) => void;
}

/** $XDG_CACHE_HOME/saekit/tokens, or ~/.cache/saekit/tokens. */
export function defaultTokenCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "saekit", "tokens");
}

/** Loads the token shards of a corpus from the cache, tokenising and caching them first if they are not there. */
export function buildTokenShards(options: TokenShardOptions): TokenShards {
  const { tokenizer, nCtx = DEFAULT_N_CTX, validationFraction = DEFAULT_VALIDATION_FRACTION } = options;
  if (!Number.isInteger(nCtx) || nCtx < 1) throw new Error(`nCtx must be a positive integer, got ${nCtx}`);
  if (options.documents !== undefined && options.sources !== undefined) throw new Error("pass either sources or documents, not both");

  const sources = options.documents === undefined ? (options.sources ?? DEFAULT_CORPUS_SOURCES).map(describeSource) : ["documents given in memory"];
  const documents = options.documents ?? loadCorpus(options.sources ?? DEFAULT_CORPUS_SOURCES);
  const contentHash = corpusFingerprint(documents);
  const key = createHash("sha256")
    .update(JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, tokenizer: tokenizer.fingerprint, nCtx, validationFraction, contentHash }))
    .digest("hex")
    .slice(0, 20);
  const dir = join(options.cacheDir ?? defaultTokenCacheDir(), key);

  const cached = readCompleteManifest(dir, key);
  if (cached !== undefined) return openShards(dir, cached, true);

  mkdirSync(dir, { recursive: true });
  const split = splitCorpus(documents, validationFraction);
  const shards = {} as Record<Domain, Record<Split, ShardStats>>;
  for (const domain of DOMAINS) {
    shards[domain] = {} as Record<Split, ShardStats>;
    for (const splitName of SPLITS) {
      const docs = split[domain][splitName];
      const tokens = tokenizeJoined(docs, tokenizer, (done) =>
        options.onProgress?.({ domain, split: splitName, documentsDone: done, documentsTotal: docs.length }),
      );
      const sequences = Math.floor(tokens.length / nCtx);
      const file = `${domain}.${splitName}.bin`;
      writeFileAtomicSync(join(dir, file), int32LittleEndianBytes(tokens.subarray(0, sequences * nCtx)));
      shards[domain][splitName] = {
        file,
        documents: docs.length,
        characters: docs.reduce((sum, d) => sum + d.text.length, 0),
        tokens: tokens.length,
        sequences,
        keptTokens: sequences * nCtx,
      };
    }
  }
  const manifest: TokenShardManifest = {
    format: FORMAT,
    version: FORMAT_VERSION,
    key,
    createdAt: new Date().toISOString(),
    tokenizer: { name: tokenizer.name, fingerprint: tokenizer.fingerprint, vocabSize: tokenizer.vocabSize, eotId: tokenizer.eotId },
    nCtx,
    validationFraction,
    layout: "eot-before-each-document, remainder-dropped, int32-le",
    sources,
    corpusFingerprint: contentHash,
    shards,
  };
  writeFileAtomicSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return openShards(dir, manifest, false);
}

/** Every document's tokens, each preceded by the end-of-text token, in one array. */
function tokenizeJoined(documents: readonly Document[], tokenizer: Tokenizer, onDocument: (done: number) => void): Int32Array {
  let buffer = new Int32Array(1 << 16);
  let length = 0;
  documents.forEach((document, index) => {
    const ids = tokenizer.encode(document.text);
    const needed = length + 1 + ids.length;
    if (needed > buffer.length) {
      const grown = new Int32Array(Math.max(needed, buffer.length * 2));
      grown.set(buffer.subarray(0, length));
      buffer = grown;
    }
    buffer[length++] = tokenizer.eotId;
    buffer.set(ids, length);
    length += ids.length;
    onDocument(index + 1);
  });
  return buffer.subarray(0, length);
}

function int32LittleEndianBytes(tokens: Int32Array): Buffer {
  const bytes = Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  return endianness() === "LE" ? bytes : Buffer.from(bytes).swap32();
}

/** The manifest in dir if the cache there is complete and of this format, else undefined (so it gets rebuilt). */
function readCompleteManifest(dir: string, key: string): TokenShardManifest | undefined {
  const path = join(dir, "manifest.json");
  if (!existsSync(path)) return undefined;
  let manifest: TokenShardManifest;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8")) as TokenShardManifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT || manifest.version !== FORMAT_VERSION || manifest.key !== key) return undefined;
  for (const domain of DOMAINS) {
    for (const split of SPLITS) {
      const stats = manifest.shards?.[domain]?.[split];
      const file = stats === undefined ? undefined : join(dir, stats.file);
      if (file === undefined || !existsSync(file) || statSync(file).size !== stats!.keptTokens * 4) return undefined;
    }
  }
  return manifest;
}

function openShards(dir: string, manifest: TokenShardManifest, fromCache: boolean): TokenShards {
  return {
    dir,
    manifest,
    fromCache,
    read(domain: Domain, split: Split): Int32Array {
      const stats = manifest.shards[domain][split];
      const bytes = readFileSync(join(dir, stats.file));
      if (bytes.length !== stats.keptTokens * 4) throw new Error(`${join(dir, stats.file)}: ${bytes.length} bytes, manifest says ${stats.keptTokens * 4}`);
      if (endianness() !== "LE") bytes.swap32();
      // Copy into a fresh, aligned buffer (a Buffer may sit at any offset of Node's shared pool).
      const tokens = new Int32Array(stats.keptTokens);
      new Uint8Array(tokens.buffer).set(bytes);
      return tokens;
    },
  };
}

export type TokenCounts = Record<Domain, Record<Split, Omit<ShardStats, "file">>>;

/**
 * Documents, characters, tokens and sequences of each domain and split of the default corpus under GPT-2's
 * tokenizer (or the one given), building the cached shards on first use.
 */
export function defaultCorpusTokenCounts(options: Omit<Partial<TokenShardOptions>, "sources" | "documents"> = {}): TokenCounts {
  const { manifest } = buildTokenShards({ ...options, tokenizer: options.tokenizer ?? loadGpt2Tokenizer(), sources: DEFAULT_CORPUS_SOURCES });
  const counts = {} as TokenCounts;
  for (const domain of DOMAINS) {
    counts[domain] = {} as TokenCounts[Domain];
    for (const split of SPLITS) {
      const { file: _file, ...rest } = manifest.shards[domain][split];
      counts[domain][split] = rest;
    }
  }
  return counts;
}
