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
 * Token statistics, the token-set LLR and the report over activation bins: proxy-stats.ts.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Tokenizer } from "../data/tokenizer.js";

export class ProxyError extends Error {
  override name = "ProxyError";
}

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

export function uniqueIds(ids: Iterable<number>, vocabSize: number, what: string): Int32Array {
  const set = new Set<number>();
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new ProxyError(`${what}: token id ${id} is outside the vocabulary 0..${vocabSize - 1}`);
    set.add(id);
  }
  return Int32Array.from(set).sort();
}

/** How unit ids become text (the model's tokenizer). */
export interface TokenTexts {
  tokenText(id: number): string;
}

/** The distinct token ids of a unit's top examples, most frequent first (ties to the smaller id). */
export function rankTopTokens(topIds: Iterable<number>): number[] {
  const counts = new Map<number, number>();
  for (const id of topIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
}

/**
 * The automatic proxy of a unit: the distinct texts of its ranked top-activating tokens (rankTopTokens), as a
 * `tokens:` spec and a description. The analysis and the store's reader both build it here.
 */
export function autoProxySpec(rankedIds: readonly number[], texts: TokenTexts): { spec: string; description: string; texts: string[] } {
  const list = [...new Set(rankedIds.map((id) => texts.tokenText(id)))];
  const shown = list.length === 0 ? "(no tokens)" : list.slice(0, 6).map((t) => JSON.stringify(t)).join(" ") + (list.length > 6 ? ` … (${list.length})` : "");
  return { spec: `tokens:${JSON.stringify(list)}`, description: `top-activating tokens: ${shown}`, texts: list };
}
