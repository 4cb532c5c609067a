/**
 * Specificity and sensitivity of a unit against a proxy (Towards Monosemanticity, "detailed investigation"): a proxy
 * scores every token occurrence in [0, 1] (1 = the hypothesis holds there, e.g. "this token is Arabic script"), and
 * the unit's activations are split by it.
 *
 * Proxy specs (`parseProxy`):
 *   tokens:A,B,C           the token's text (Tokenizer.tokenText) is exactly one of A, B, C. The argument is taken
 *                          literally (no trimming: "tokens: the, a" means " the" and " a"); texts holding commas
 *                          go in a JSON array: tokens:[" the",","]
 *   tokens-ci:...          the same, comparing trimmed, lower-cased texts
 *   regex:PATTERN          a JS regex tested on the token's text; the plain form gets the "u" flag (so \p{...}
 *   regex:/PATTERN/FLAGS   works), the /…/ form takes its flags as written (g and y are dropped: they make test()
 *                          stateful)
 *   context:PATTERN        a regex over the sequence's text; holds (score 1) at every token whose characters a
 *   context:/PATTERN/FLAGS non-empty match overlaps
 *   script:NAME            share of the token's letters (\p{L}) in Unicode script NAME (\p{Script=NAME}); 0 for a
 *                          token with no letters
 *   module:PATH            the user's ES module (PATH relative to the working directory) whose default export is
 *                          `(ctx: ProxyContext) => number | boolean` or `{ description?, score(ctx) }`
 * tokens, regex and script depend on the token alone ("token-level"): their score is a per-vocabulary-id table,
 * built on first use (one tokenText call per id) and looked up from then on.
 *
 * Byte-level tokenizers (GPT-2) split many non-Latin characters across tokens; such a token's own text shows the
 * partial bytes as U+FFFD, so it has no letters for script:, and tokens:/regex: see only the U+FFFD. context: decodes
 * each run of consecutive such tokens together, so the real characters are matched; every token of the run gets the
 * run's whole character span (a character made of bytes of two tokens belongs to both). For example
 * context:\p{Script=Arabic}+ also catches Arabic spread over partial-byte tokens.
 *
 * Token statistics (`ProxyTokenStats`, `UnigramCounts`/`tokenSetLlr`): per vocabulary id t the occurrence count
 * c(t) and the proxy-weighted count c_p(t) = Σ score over t's occurrences, N = Σ c, N_p = Σ c_p, and the
 * log-likelihood ratio (natural log) with add-α smoothing over the V ids of the vocabulary:
 *   LLR(t) = log P(t | proxy) − log P(t),  P(t | proxy) = (c_p(t) + α) / (N_p + αV),  P(t) = (c(t) + α) / (N + αV).
 * α = 0.5 by default (DEFAULT_LLR_ALPHA, Jeffreys' prior): it keeps the LLR finite for ids never seen and shrinks
 * it towards 0 for rare ids. For a token set S (score 1 on S, 0 elsewhere) c_p = c on S and 0 off it, so
 *   LLR(t) = K                          for t ∈ S,   K = log(N + αV) − log(N_p + αV)
 *   LLR(t) = K + log α − log(c(t) + α)  for t ∉ S,
 * which `tokenSetLlr` evaluates in O(1) per id after O(|S|) set-up (given the unigram table and its total once).
 *
 * Report (`proxyReport`): the unit's firing tokens binned by activation exactly as feature-stats.ts bins them
 * (bin b of n on [0, max] is [max·b/n, max·(b+1)/n), the last bin also holds max), with per bin the count, the
 * proxy count Σ score, the activation mass Σ a, the proxy activation mass Σ a·score and the mean LLR; and
 *   specificity        = Σ a·score / Σ a          (0 for a unit that never fires)
 *   specificityFiring  = Σ score / firing tokens  (0 for a unit that never fires)
 *   sensitivity        = Σ score over firing tokens / proxyTokens (N_p over the whole evaluation; 0 when N_p = 0).
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Tokenizer } from "../data/tokenizer.js";
import { binOf, edge } from "./feature-stats.js";
import type { ProxyBin, ProxyReport } from "./investigation.js";

export class ProxyError extends Error {
  override name = "ProxyError";
}

/** Add-α smoothing of the proxy LLR (see the module doc). */
export const DEFAULT_LLR_ALPHA = 0.5;

export type ProxyTokenizer = Pick<Tokenizer, "tokenText" | "decode" | "vocabSize">;

interface ProxyBase {
  /** The spec as given (for tokenSetProxy, one that parseProxy reads back). */
  readonly spec: string;
  readonly description: string;
  /** Writes the score in [0, 1] of each token of the sequence to out[0 .. ids.length). */
  scoreSequence(ids: ArrayLike<number>, out: Float32Array): void;
}

/** A proxy that depends on the token alone: its scores are a per-id table. */
export interface TokenProxy extends ProxyBase {
  readonly tokenLevel: true;
  /** Score per vocabulary id (built on the first call, then shared: do not modify). */
  tokenScores(): Float32Array;
}

/** A proxy that looks at the token's context (context:, module:). */
export interface SequenceProxy extends ProxyBase {
  readonly tokenLevel: false;
}

export type Proxy = TokenProxy | SequenceProxy;

/** A set of token ids (score 1 on the set, 0 elsewhere). */
export interface TokenSetProxy extends TokenProxy {
  /** The set, ascending, without repeats. */
  readonly ids: Int32Array;
}

/** What a module proxy's score function sees for one token. */
export interface ProxyContext {
  id: number;
  text: string;
  position: number;
  /** The whole sequence of ids (read it, do not modify it). */
  sequence: ArrayLike<number>;
  tokenText(id: number): string;
}

/** A module proxy's score; true/false count as 1/0, anything outside [0, 1] (or NaN) is an error. */
export type ProxyScoreFunction = (ctx: ProxyContext) => number | boolean;

const FORMS = [
  'tokens:A,B,C or tokens:[" the",","]    the token\'s text is one of these (exactly)',
  "tokens-ci:A,B,C                        the same, trimmed and case-insensitive",
  "regex:PATTERN or regex:/PATTERN/FLAGS  a regex on the token's text",
  "context:PATTERN or context:/PATTERN/FLAGS  a regex on the sequence's text, at the tokens a match overlaps",
  "script:NAME                            share of the token's letters in a Unicode script (Arabic, Hebrew, Han, ...)",
  "module:PATH                            an ES module whose default export scores tokens (path relative to the working directory)",
];

function formsError(message: string): ProxyError {
  return new ProxyError(`${message}; accepted proxies:\n  ${FORMS.join("\n  ")}`);
}

/** Parses a proxy spec (see the module doc for the forms). */
export async function parseProxy(spec: string, tokenizer: ProxyTokenizer): Promise<Proxy> {
  const colon = spec.indexOf(":");
  if (colon < 0) throw formsError(`proxy "${spec}" has no kind (expected KIND:ARGUMENT)`);
  const kind = spec.slice(0, colon).trim().toLowerCase();
  const arg = spec.slice(colon + 1);
  const known = ["tokens", "tokens-ci", "regex", "context", "script", "module"];
  if (!known.includes(kind)) throw formsError(`unknown proxy kind "${kind}" in "${spec}"`);
  if (arg.trim() === "") throw formsError(`proxy "${spec}" needs an argument after the colon`);
  switch (kind) {
    case "tokens":
    case "tokens-ci": {
      const texts = parseTokenList(spec, arg);
      const ci = kind === "tokens-ci";
      const key = ci ? (t: string) => t.trim().toLowerCase() : (t: string) => t;
      const wanted = new Set(texts.map(key));
      const description = `${ci ? "token (trimmed, any case)" : "token"} is one of ${listTexts(texts)}`;
      return tableProxy(spec, description, tokenizer, (text) => (wanted.has(key(text)) ? 1 : 0));
    }
    case "regex": {
      const re = parseRegex(spec, arg, "");
      return tableProxy(spec, `token text matches ${re}`, tokenizer, (text) => (re.test(text) ? 1 : 0));
    }
    case "context":
      return contextProxy(spec, parseRegex(spec, arg, "g"), tokenizer);
    case "script":
      return scriptProxy(spec, arg.trim(), tokenizer);
    default:
      return moduleProxy(spec, arg.trim(), tokenizer);
  }
}

/**
 * The proxy "the token is one of these ids" (the analysis' default per-feature proxy: its top-activating tokens).
 * Its spec lists the ids' texts as a JSON array, so parseProxy reads it back (to the same set unless two ids share
 * a text, e.g. two partial-byte tokens that both show as U+FFFD).
 */
export function tokenSetProxy(ids: Iterable<number>, tokenizer: Pick<Tokenizer, "tokenText" | "vocabSize">): TokenSetProxy {
  const set = uniqueIds(ids, tokenizer.vocabSize, "tokenSetProxy");
  const texts = Array.from(set, (id) => tokenizer.tokenText(id));
  let table: Float32Array | null = null;
  const tokenScores = (): Float32Array => {
    if (!table) {
      table = new Float32Array(tokenizer.vocabSize);
      for (const id of set) table[id] = 1;
    }
    return table;
  };
  const spec = `tokens:${JSON.stringify(texts)}`;
  return {
    spec,
    description: `token is one of ${listTexts(texts)}`,
    tokenLevel: true,
    ids: set,
    tokenScores,
    scoreSequence: (seq, out) => lookup(spec, tokenScores(), seq, out),
  };
}

function parseTokenList(spec: string, arg: string): string[] {
  let items: unknown;
  if (arg.trimStart().startsWith("[")) {
    try {
      items = JSON.parse(arg);
    } catch (e) {
      throw new ProxyError(`proxy "${spec}": the token list is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(items) || !items.every((t) => typeof t === "string")) {
      throw new ProxyError(`proxy "${spec}": a JSON token list must be an array of strings, e.g. tokens:[" the",","]`);
    }
  } else {
    items = arg.split(",");
  }
  const texts = items as string[];
  if (texts.length === 0 || texts.includes("")) {
    throw new ProxyError(`proxy "${spec}": empty token text in the list (texts with commas go in a JSON array: tokens:[" the",","])`);
  }
  return texts;
}

/** `PATTERN` (with the u flag) or `/PATTERN/FLAGS` (flags as written, less g and y), plus `extra` flags. */
function parseRegex(spec: string, arg: string, extra: string): RegExp {
  const slashed = /^\/(.*)\/([a-z]*)$/s.exec(arg);
  const source = slashed ? slashed[1]! : arg;
  const flags = slashed ? slashed[2]!.replace(/[gy]/g, "") : "u";
  try {
    return new RegExp(source, flags + extra);
  } catch (e) {
    throw new ProxyError(`proxy "${spec}": invalid regular expression ${JSON.stringify(arg)}: ${(e as Error).message}`);
  }
}

function listTexts(texts: readonly string[]): string {
  const shown = texts.slice(0, 12).map((t) => JSON.stringify(t)).join(", ");
  return texts.length > 12 ? `${shown}, … (${texts.length} in all)` : shown;
}

function checkOut(spec: string, ids: ArrayLike<number>, out: Float32Array): void {
  if (out.length < ids.length) {
    throw new ProxyError(`proxy ${spec}: output holds ${out.length} scores but the sequence has ${ids.length} tokens`);
  }
}

function outOfVocab(spec: string, id: number, position: number, vocabSize: number): ProxyError {
  return new ProxyError(`proxy ${spec}: token id ${id} at position ${position} is outside the vocabulary 0..${vocabSize - 1}`);
}

function lookup(spec: string, table: Float32Array, ids: ArrayLike<number>, out: Float32Array): void {
  checkOut(spec, ids, out);
  for (let i = 0; i < ids.length; i++) {
    const s = table[ids[i]!]; // undefined for a negative, fractional or too large id
    if (s === undefined) throw outOfVocab(spec, ids[i]!, i, table.length);
    out[i] = s;
  }
}

/** A token-level proxy from a score of the token's text; the table is built on first use. */
function tableProxy(spec: string, description: string, tokenizer: ProxyTokenizer, score: (text: string) => number): TokenProxy {
  let table: Float32Array | null = null;
  const tokenScores = (): Float32Array => {
    if (!table) {
      table = new Float32Array(tokenizer.vocabSize);
      for (let id = 0; id < table.length; id++) table[id] = score(tokenizer.tokenText(id));
    }
    return table;
  };
  return { spec, description, tokenLevel: true, tokenScores, scoreSequence: (ids, out) => lookup(spec, tokenScores(), ids, out) };
}

function scriptProxy(spec: string, name: string, tokenizer: ProxyTokenizer): TokenProxy {
  let inScript: RegExp | null = null;
  // Only a bare name goes into the pattern, so the argument cannot inject other regex syntax.
  if (/^[A-Za-z_]+$/.test(name)) {
    try {
      inScript = new RegExp(`\\p{Script=${name}}`, "u");
    } catch {
      inScript = null;
    }
  }
  if (!inScript) {
    throw new ProxyError(`proxy "${spec}": unknown Unicode script "${name}" (use a script name such as Latin, Arabic, Hebrew, Cyrillic, Greek, Han)`);
  }
  const re = inScript;
  const letter = /\p{L}/u;
  return tableProxy(spec, `share of the token's letters in the ${name} script`, tokenizer, (text) => {
    let letters = 0;
    let inside = 0;
    for (const ch of text) {
      if (!letter.test(ch)) continue;
      letters++;
      if (re.test(ch)) inside++;
    }
    return letters > 0 ? inside / letters : 0;
  });
}

/** tokenText with a per-id cache (the HF tokenizer decodes on every call) and a range check. */
function cachedTokenText(spec: string, tokenizer: Pick<Tokenizer, "tokenText" | "vocabSize">): (id: number) => string {
  const cache: (string | undefined)[] = new Array<string | undefined>(tokenizer.vocabSize);
  return (id) => {
    let text = cache[id];
    if (text === undefined) {
      if (!Number.isInteger(id) || id < 0 || id >= cache.length) {
        throw new ProxyError(`proxy ${spec}: token id ${id} is outside the vocabulary 0..${cache.length - 1}`);
      }
      text = tokenizer.tokenText(id);
      cache[id] = text;
    }
    return text;
  };
}

/**
 * The sequence's text and each token's character span [start, end): the concatenated token texts, except that a run
 * of tokens whose texts hold U+FFFD (partial UTF-8 bytes) is decoded as a whole and every token of the run gets the
 * run's span. A token without U+FFFD is valid UTF-8 on its own, so runs start and end on character boundaries.
 */
function sequenceSpans(ids: ArrayLike<number>, tokenizer: ProxyTokenizer, tokenText: (id: number) => string) {
  const n = ids.length;
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  let text = "";
  for (let i = 0; i < n; ) {
    const piece = tokenText(ids[i]!);
    if (!piece.includes("\uFFFD")) {
      start[i] = text.length;
      text += piece;
      end[i] = text.length;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && tokenText(ids[j]!).includes("\uFFFD")) j++;
    const s = text.length;
    text += tokenizer.decode(Array.from({ length: j - i }, (_, q) => ids[i + q]!));
    for (let q = i; q < j; q++) {
      start[q] = s;
      end[q] = text.length;
    }
    i = j;
  }
  return { text, start, end };
}

function contextProxy(spec: string, re: RegExp, tokenizer: ProxyTokenizer): SequenceProxy {
  const tokenText = cachedTokenText(spec, tokenizer);
  return {
    spec,
    description: `text matches ${re} at the token`,
    tokenLevel: false,
    scoreSequence(ids, out) {
      checkOut(spec, ids, out);
      const n = ids.length;
      out.fill(0, 0, n);
      const { text, start, end } = sequenceSpans(ids, tokenizer, tokenText);
      // Matches come in text order and spans are non-decreasing, so one forward pointer finds the first token
      // that ends after each match's start.
      let k = 0;
      for (const m of text.matchAll(re)) {
        const a = m.index;
        const b = a + m[0].length;
        if (b === a) continue; // an empty match covers no character
        while (k < n && end[k]! <= a) k++;
        for (let j = k; j < n && start[j]! < b; j++) if (end[j]! > start[j]!) out[j] = 1;
      }
    },
  };
}

async function moduleProxy(spec: string, arg: string, tokenizer: ProxyTokenizer): Promise<SequenceProxy> {
  const path = resolve(process.cwd(), arg);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new ProxyError(`proxy "${spec}": module file not found: ${path} (module paths are relative to ${process.cwd()})`);
  }
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  } catch (e) {
    throw new ProxyError(`proxy "${spec}": cannot load ${path}: ${(e as Error).message}`);
  }
  let score: ProxyScoreFunction;
  let description = `module proxy ${arg}`;
  if (typeof exported === "function") {
    score = exported as ProxyScoreFunction;
  } else if (exported !== null && typeof exported === "object" && typeof (exported as { score?: unknown }).score === "function") {
    const obj = exported as { score: ProxyScoreFunction; description?: unknown };
    score = (ctx) => obj.score(ctx); // called as a method, so `this` is the object
    if (typeof obj.description === "string") description = obj.description;
  } else {
    throw new ProxyError(
      `proxy "${spec}": the default export of ${path} must be a function (ctx) => score or an object { description?, score(ctx) }, ` +
        `got ${exported === null ? "null" : typeof exported}`,
    );
  }
  const tokenText = cachedTokenText(spec, tokenizer);
  return {
    spec,
    description,
    tokenLevel: false,
    scoreSequence(ids, out) {
      checkOut(spec, ids, out);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const text = tokenText(id);
        const v = score({ id, text, position: i, sequence: ids, tokenText });
        const s = typeof v === "boolean" ? Number(v) : v;
        if (typeof s !== "number" || !(s >= 0 && s <= 1)) {
          const shown = typeof v === "string" ? JSON.stringify(v) : String(v);
          throw new ProxyError(
            `proxy module ${path} returned ${shown} at position ${i} (token ${id} ${JSON.stringify(text)}); scores must be numbers in [0, 1] or booleans`,
          );
        }
        out[i] = s;
      }
    },
  };
}

function uniqueIds(ids: Iterable<number>, vocabSize: number, what: string): Int32Array {
  const set = new Set<number>();
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new ProxyError(`${what}: token id ${id} is outside the vocabulary 0..${vocabSize - 1}`);
    set.add(id);
  }
  return Int32Array.from(set).sort();
}

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new ProxyError(`proxy LLR: alpha must be a positive number, got ${alpha}`);
}

/** log(N + αV) − log(N_p + αV): the part of the LLR shared by every id. */
/** K = log(N + αV) − log(N_p + αV): the LLR of every token of a token-set proxy (module doc). */
export function llrOffset(tokens: number, proxyTokens: number, alpha: number, vocabSize: number): number {
  return Math.log(tokens + alpha * vocabSize) - Math.log(proxyTokens + alpha * vocabSize);
}

/** Per vocabulary id c(t) and c_p(t) over the evaluation tokens, streamed one sequence at a time; see the module doc. */
export class ProxyTokenStats {
  readonly vocabSize: number;
  readonly alpha: number;
  private readonly c: Float64Array;
  private readonly cp: Float64Array;
  private n = 0;
  private np = 0;

  constructor(vocabSize: number, alpha = DEFAULT_LLR_ALPHA) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new ProxyError(`proxy stats: vocabSize must be a positive integer, got ${vocabSize}`);
    checkAlpha(alpha);
    this.vocabSize = vocabSize;
    this.alpha = alpha;
    this.c = new Float64Array(vocabSize);
    this.cp = new Float64Array(vocabSize);
  }

  /**
   * For a token-level proxy: the same statistics from a unigram count table alone (c_p(t) = c(t)·score(t)),
   * in O(V) without another pass over the tokens.
   */
  static fromUnigram(counts: Float64Array | Uint32Array, tableScores: Float32Array, alpha = DEFAULT_LLR_ALPHA): ProxyTokenStats {
    if (tableScores.length !== counts.length) {
      throw new ProxyError(`proxy stats: ${counts.length} unigram counts but ${tableScores.length} token scores`);
    }
    const stats = new ProxyTokenStats(counts.length, alpha);
    for (let t = 0; t < counts.length; t++) {
      const c = counts[t]!;
      const s = tableScores[t]!;
      if (!(c >= 0)) throw new ProxyError(`proxy stats: unigram count of token ${t} is ${c}`);
      if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy stats: score of token ${t} is ${s}, not in [0, 1]`);
      stats.c[t] = c;
      stats.cp[t] = c * s;
      stats.n += c;
      stats.np += c * s;
    }
    return stats;
  }

  /** N: the tokens seen. */
  get tokens(): number {
    return this.n;
  }

  /** N_p: Σ score over the tokens seen. */
  get proxyTokens(): number {
    return this.np;
  }

  count(id: number): number {
    return this.c[id] ?? 0;
  }

  proxyCount(id: number): number {
    return this.cp[id] ?? 0;
  }

  /** One sequence: ids[i] scored scores[i] ∈ [0, 1]. A bad input throws before anything is counted. */
  add(ids: ArrayLike<number>, scores: ArrayLike<number>): void {
    const n = ids.length;
    if (scores.length < n) throw new ProxyError(`proxy stats: ${n} tokens but ${scores.length} scores`);
    const V = this.vocabSize;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ProxyError(`proxy stats: token id ${id} at position ${i} is outside 0..${V - 1}`);
      const s = scores[i]!;
      if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy stats: score ${s} at position ${i} is not in [0, 1]`);
    }
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      this.c[ids[i]!]! += 1;
      this.cp[ids[i]!]! += s;
      this.np += s;
    }
    this.n += n;
  }

  /** LLR(t) = log P(t | proxy) − log P(t) for every id (module doc). */
  llr(): Float32Array {
    const { alpha, vocabSize: V } = this;
    const k = llrOffset(this.n, this.np, alpha, V);
    const out = new Float32Array(V);
    for (let t = 0; t < V; t++) out[t] = k + Math.log(this.cp[t]! + alpha) - Math.log(this.c[t]! + alpha);
    return out;
  }
}

/** The evaluation's unigram counts with their total, computed once and shared by every token-set LLR. */
export class UnigramCounts {
  readonly counts: Float64Array | Uint32Array;
  readonly total: number;

  constructor(counts: Float64Array | Uint32Array) {
    let total = 0;
    for (let t = 0; t < counts.length; t++) {
      const c = counts[t]!;
      if (!(c >= 0 && c < Infinity)) throw new ProxyError(`unigram counts: count of token ${t} is ${c}`);
      total += c;
    }
    this.counts = counts;
    this.total = total;
  }

  get vocabSize(): number {
    return this.counts.length;
  }
}

export interface TokenSetLlr {
  /** N_p = Σ c(t) over the set. */
  readonly proxyTokens: number;
  has(id: number): boolean;
  /** Score of the id under the set proxy: 1 on the set, 0 off it. */
  score(id: number): number;
  llr(id: number): number;
}

/** The LLR of a token-set proxy, O(|set|) to set up and O(1) per id (module doc); same numbers as ProxyTokenStats. */
export function tokenSetLlr(unigram: UnigramCounts, ids: Iterable<number>, alpha = DEFAULT_LLR_ALPHA): TokenSetLlr {
  checkAlpha(alpha);
  const { counts, vocabSize: V } = unigram;
  const set = new Set(uniqueIds(ids, V, "tokenSetLlr"));
  let proxyTokens = 0;
  for (const id of set) proxyTokens += counts[id]!;
  const k = llrOffset(unigram.total, proxyTokens, alpha, V);
  const logAlpha = Math.log(alpha);
  const check = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new ProxyError(`tokenSetLlr: token id ${id} is outside the vocabulary 0..${V - 1}`);
  };
  return {
    proxyTokens,
    has: (id) => set.has(id),
    score: (id) => (set.has(id) ? 1 : 0),
    llr: (id) => {
      check(id);
      // On the set c_p = c, so the two count terms cancel.
      return set.has(id) ? k : k + logAlpha - Math.log(counts[id]! + alpha);
    },
  };
}

export interface ProxyReportInput {
  spec: string;
  description: string;
  /** The unit's activation at each of its firing tokens (each in (0, max]). */
  activations: ArrayLike<number>;
  /** The proxy's score at those tokens. */
  scores: ArrayLike<number>;
  /** The LLR of those tokens' ids. */
  llr: ArrayLike<number>;
  /** The unit's max activation. */
  max: number;
  /** Equal-width bins on [0, max]. */
  bins: number;
  /** N_p over the whole evaluation. */
  proxyTokens: number;
}

/** The unit's activations split by the proxy; see the module doc for the binning and the three ratios. */
export function proxyReport(input: ProxyReportInput): ProxyReport {
  const { activations: act, scores, llr, max, bins: n, proxyTokens } = input;
  if (!Number.isInteger(n) || n < 1) throw new ProxyError(`proxy report: bins must be a positive integer, got ${n}`);
  if (!(max >= 0 && max < Infinity)) throw new ProxyError(`proxy report: max must be a finite number ≥ 0, got ${max}`);
  if (!(proxyTokens >= 0 && proxyTokens < Infinity)) throw new ProxyError(`proxy report: proxyTokens must be finite and ≥ 0, got ${proxyTokens}`);
  if (scores.length !== act.length || llr.length !== act.length) {
    throw new ProxyError(`proxy report: ${act.length} activations, ${scores.length} scores and ${llr.length} LLRs (must be equal)`);
  }
  const count = new Float64Array(n);
  const proxyCount = new Float64Array(n);
  const mass = new Float64Array(n);
  const proxyMass = new Float64Array(n);
  const llrSum = new Float64Array(n);
  const scale = max > 0 ? n / max : 0;
  for (let i = 0; i < act.length; i++) {
    const a = act[i]!;
    const s = scores[i]!;
    if (!(a > 0 && a <= max)) throw new ProxyError(`proxy report: activation ${a} at firing token ${i} is not in (0, max = ${max}]`);
    if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy report: score ${s} at firing token ${i} is not in [0, 1]`);
    const b = binOf(a, max, n, scale);
    count[b]! += 1;
    proxyCount[b]! += s;
    mass[b]! += a;
    proxyMass[b]! += a * s;
    llrSum[b]! += llr[i]!;
  }
  const bins: ProxyBin[] = [];
  let firing = 0;
  let scoreSum = 0;
  let massSum = 0;
  let proxyMassSum = 0;
  for (let b = 0; b < n; b++) {
    bins.push({
      lo: edge(max, b, n),
      hi: edge(max, b + 1, n),
      count: count[b]!,
      proxyCount: proxyCount[b]!,
      proxyMassShare: mass[b]! > 0 ? proxyMass[b]! / mass[b]! : null,
      meanLlr: count[b]! > 0 ? llrSum[b]! / count[b]! : null,
    });
    firing += count[b]!;
    scoreSum += proxyCount[b]!;
    massSum += mass[b]!;
    proxyMassSum += proxyMass[b]!;
  }
  return {
    spec: input.spec,
    description: input.description,
    specificity: massSum > 0 ? proxyMassSum / massSum : 0,
    specificityFiring: firing > 0 ? scoreSum / firing : 0,
    sensitivity: proxyTokens > 0 ? scoreSum / proxyTokens : 0,
    proxyTokens,
    bins,
  };
}
