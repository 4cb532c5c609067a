/** How the CLI names a corpus in records (cfg.json's dataset_path) and in messages (which folder held too little). */
import { resolve } from "node:path";
import type { CorpusSource } from "../data/corpus.js";

/** "--text /abs/dir", "--jsonl /abs/f.jsonl", or the packaged corpus's source names. */
export function describeCorpus(sources: readonly CorpusSource[]): string {
  const user = sources.filter((s): s is Extract<CorpusSource, { path: string }> => "path" in s);
  if (user.length === 0) return `the packaged corpus (${sources.map((s) => s.kind).join(" + ")})`;
  return user.map((s) => `${s.kind === "text-dir" ? "--text" : `--${s.kind}`} ${resolve(s.path)}`).join(" + ");
}

/** cfg.json's dataset_path: the corpus the activations came from (--text folders, --jsonl files, or packaged sources). */
export function corpusDatasetPath(sources: readonly CorpusSource[]): string {
  const named = sources.map((s) => ("path" in s ? `${s.kind === "text-dir" ? "text" : s.kind}:${resolve(s.path)}` : s.kind));
  const packaged = sources.every((s) => !("path" in s));
  return `${packaged ? `saekit (${named.join(" + ")})` : named.join(" + ")}, train split`;
}
