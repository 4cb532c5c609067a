/** `saekit corpus stats`: documents, characters and GPT-2 tokens of each corpus source per split. */
import type { Command } from "commander";
import { corpusSourceStats, type SourceStats } from "../data/corpus-stats.js";
import { loadGpt2Tokenizer } from "../data/tokenizer.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { DEFAULT_CORPUS_VERSION } from "../data/corpus.js";
import { corpusSources } from "./flags.js";
import { collect } from "./flags.js";

const fmt = (n: number) => n.toLocaleString("en-US");

/** A fixed-width table: one row per source, then per-domain totals. */
export function formatSourceStats(stats: readonly SourceStats[]): string {
  const rows = [["source", "domain", "docs train/val", "tokens train", "tokens val", "repeats dropped"]];
  const totals = new Map<string, [number, number]>();
  for (const s of stats) {
    rows.push([s.source, s.domain, `${fmt(s.splits.train.documents)}/${fmt(s.splits.validation.documents)}`, fmt(s.splits.train.tokens), fmt(s.splits.validation.tokens), fmt(s.duplicatesDropped)]);
    const t = totals.get(s.domain) ?? [0, 0];
    totals.set(s.domain, [t[0] + s.splits.train.tokens, t[1] + s.splits.validation.tokens]);
  }
  for (const [domain, [train, validation]] of totals) rows.push([`total ${domain}`, domain, "", fmt(train), fmt(validation), ""]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ")).join("\n");
}

export function registerCorpus(program: Command): void {
  program
    .command("corpus")
    .description("inspect the training corpus")
    .command("stats")
    .description("documents and GPT-2 tokens of each source per split (train/validation), as the token shards count them")
    .option("--corpus <version>", `the packaged corpus: v1 or v2 (default ${DEFAULT_CORPUS_VERSION})`)
    .option("--text <dir>", "count the files under this folder instead (repeatable)", collect, [])
    .option("--jsonl <file>", "count the lines of this file instead (repeatable)", collect, [])
    .option("--json <file>", "also write the statistics as JSON")
    .action((f: { corpus?: string; text: string[]; jsonl: string[]; json?: string }) => {
      const sources = corpusSources(f);
      const stats = corpusSourceStats(sources, loadGpt2Tokenizer(), { onSource: (name) => process.stderr.write(`tokenising ${name}\n`) });
      console.log(formatSourceStats(stats));
      if (f.json !== undefined) writeFileAtomicSync(f.json, `${JSON.stringify(stats, null, 2)}\n`);
    });
}
