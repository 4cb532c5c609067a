import type { Command } from "commander";
/** Flag parsers shared by the subcommands: numbers with k/M/G suffixes and range checks that name the flag. */
import { InvalidArgumentError } from "commander";
import { corpusVersionOfSources, corpusVersionSources, DEFAULT_CORPUS_VERSION, type CorpusSource, type CorpusVersion } from "../data/corpus.js";
import fs from "node:fs";
import path from "node:path";
import { parseThresholdList } from "../sae/density.js";

const SUFFIX: Record<string, number> = { k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 };

/** "20M", "1.5e6", "4096" → a number (k/M/G suffixes for token counts). */
export function parseNumber(value: string): number {
  const match = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*([kKmMgG]?)\s*$/.exec(value);
  return match ? Number(match[1]) * (match[2] ? SUFFIX[match[2]]! : 1) : NaN;
}

/** An integer flag ≥ min; the message names the flag. */
export function integerFlag(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = parseNumber(value);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${flag} must be ${min === 1 ? "a positive integer" : `an integer ≥ ${min}`}, got "${value}".`);
    }
    return n;
  };
}

/** A number flag in (min, max] (or [min, max] when inclusive). */
export function numberFlag(flag: string, min: number, max = Infinity, inclusiveMin = false): (value: string) => number {
  return (value) => {
    const n = parseNumber(value);
    const ok = Number.isFinite(n) && (inclusiveMin ? n >= min : n > min) && n <= max;
    if (!ok) {
      const range = max === Infinity ? `${inclusiveMin ? "≥" : ">"} ${min}` : `in ${inclusiveMin ? "[" : "("}${min}, ${max}]`;
      throw new InvalidArgumentError(`${flag} must be a number ${range}, got "${value}".`);
    }
    return n;
  };
}

/** A comma-separated list of densities in (0, 1] (e.g. --low-density 1e-4,1e-5); the message names the flag. */
export function densityListFlag(flag: string): (value: string) => number[] {
  return (value) => {
    try {
      return parseThresholdList(value, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** Repeatable string flag. */
export const collect = (value: string, previous: string[]) => [...previous, value];

/** The corpus flags shared by every command that reads text: --cache-dir, --corpus v1|v2, --text DIR, --jsonl FILE (repeatable). */
export function corpusOptions(command: Command, verb = "use"): Command {
  return command
    .option("--cache-dir <dir>", "token cache folder (default ~/.cache/saekit/tokens)")
    .option("--corpus <version>", `the packaged corpus: v1 or v2 (v1 plus more prose and Python; docs/data.md) (default: the one the model was trained on, else ${DEFAULT_CORPUS_VERSION})`)
    .option("--text <dir>", `${verb} the .txt/.md (prose) and code files under this folder instead of the default corpus (repeatable)`, collect, [])
    .option("--jsonl <file>", `${verb} {"text", "domain"?} lines of this file instead of the default corpus (repeatable)`, collect, []);
}

/**
 * Corpus sources from repeatable --text DIR / --jsonl FILE flags, else the packaged corpus --corpus names, else (with
 * `modelDir`) the packaged corpus that model was trained on (its training.json), else DEFAULT_CORPUS_VERSION: so a
 * model is evaluated and analysed on its own training distribution unless told otherwise.
 */
export function corpusSources(f: { text: string[]; jsonl: string[]; corpus?: string }, modelDir?: string): readonly CorpusSource[] {
  const sources: CorpusSource[] = [
    ...f.text.map((path): CorpusSource => ({ kind: "text-dir", path })),
    ...f.jsonl.map((path): CorpusSource => ({ kind: "jsonl", path })),
  ];
  if (sources.length > 0 && f.corpus !== undefined) throw new Error("--corpus names a packaged corpus: give it or --text/--jsonl, not both");
  if (sources.length > 0) return sources;
  try {
    return corpusVersionSources(f.corpus ?? (modelDir !== undefined ? modelCorpusVersion(modelDir) : null) ?? DEFAULT_CORPUS_VERSION);
  } catch (error) {
    throw new Error(`--corpus: ${(error as Error).message}`);
  }
}

/**
 * The packaged corpus version recorded in a model folder's training.json (data.sources), or null: no training.json
 * (a converted checkpoint), another layout, or text outside the packaged versions.
 */
export function modelCorpusVersion(modelDir: string): CorpusVersion | null {
  let record: unknown;
  try {
    record = JSON.parse(fs.readFileSync(path.join(modelDir, "training.json"), "utf8"));
  } catch {
    return null;
  }
  const labels = (record as { data?: { sources?: unknown } } | null)?.data?.sources;
  return Array.isArray(labels) && labels.every((l) => typeof l === "string") ? corpusVersionOfSources(labels) : null;
}
