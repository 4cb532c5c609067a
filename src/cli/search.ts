/**
 * `saekit search QUERY [--run A/1] [--ignore-case] [--exact] [--limit N] [--offset N] [--json]`: the dashboards'
 * search from the command line — exact tokens (a leading space is part of the token: " import"), ranked across
 * runs, with the true count (store/search.ts for the ranking).
 */
import type { Command } from "commander";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import type { SearchResponse } from "../vis/api-types.js";
import { dashboardService } from "../vis/service.js";
import { integerFlag } from "./flags.js";
import { terminalSafe } from "./terminal.js";

interface SearchFlags {
  run?: string;
  models?: string;
  ignoreCase?: boolean;
  exact?: boolean;
  limit: number;
  offset: number;
  json?: boolean;
}

/** Token text with its spaces visible, as the app shows it (" import" → "·import"). */
export function visibleToken(t: string): string {
  return t.length === 0 ? "∅" : t.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍");
}

export function formatSearch(r: SearchResponse): string {
  const total = r.total ?? r.hits.length;
  const offset = r.offset ?? 0;
  const head = `${total} match${total === 1 ? "" : "es"} for ${JSON.stringify(r.query)} (shown ${visibleToken(r.query)}${r.ignoreCase ? ", case folded" : ""}${r.exact ? ", exact only" : ""})` +
    (r.hits.length > 0 ? `; ${offset + 1}–${offset + r.hits.length}` : "");
  const rows = r.hits.map((h) => [h.name, h.match ?? "", h.field, h.field.includes("token") || h.field.includes("logit") ? visibleToken(h.text) : h.text, h.density.toExponential(2), h.score === null ? "–" : h.score.toFixed(2), h.label]);
  const widths = rows.length ? rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length))) : [];
  return [head, ...rows.map((row) => row.map((s, c) => (c === row.length - 1 ? s : s.padEnd(widths[c]!))).join("  "))].join("\n");
}

export function registerSearch(program: Command): void {
  program
    .command("search")
    .description("find units by exact token (leading space kept: \" import\"), name (A/1/3450) or label, ranked across runs with the true count")
    .argument("<query>", "a token, a unit name or label text (quote it to keep a leading space)")
    .option("--run <set>", "search one unit set only (A/1, A/neuron)")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option("--ignore-case", "fold case before comparing")
    .option("--exact", "only exact token (and name) matches, no 'equal but for whitespace' or substring ones")
    .option("--limit <n>", "results to show", integerFlag("--limit", 1), 20)
    .option("--offset <n>", "results to skip", integerFlag("--offset", 0), 0)
    .option("--json", "print the API's SearchResponse as JSON")
    .action((query: string, f: SearchFlags) => {
      if (query.length === 0) throw new Error("the query is empty; give a token (\" import\"), a unit name (A/1/3450) or label text");
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const r = dashboardService(workspace).search(query, f.run, f.limit, { offset: f.offset, ignoreCase: f.ignoreCase, exact: f.exact });
        console.log(f.json ? JSON.stringify(r, null, 1) : terminalSafe(formatSearch(r)));
      } finally {
        workspace.close();
      }
    });
}
