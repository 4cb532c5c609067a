/**
 * Search over one investigation store's search table: unit names, labels, top-activating tokens and top/bottom
 * logit tokens (case-insensitive). Ranking: exact name, exact top token, label, exact logit token, then partial
 * matches (tokens before logits); ties by density, then index.
 */
import { unitName } from "../../names.js";
import type { InvestigationManifest, UnitColumns, UnitSearchEntry } from "../unit-record.js";

export interface SearchHit {
  index: number;
  name: string;
  label: string;
  density: number;
  /** The unit's interpretability score (interpretability.ts); null for dead units and stores written before it. */
  score: number | null;
  /** What matched: "name", "label", "top token", "top logit" or "bottom logit". */
  field: string;
  text: string;
}

export interface SearchOptions {
  limit?: number;
  fields?: readonly ("name" | "label" | "token" | "logit")[];
}

/** What the search reads of a store. */
export interface SearchableStore {
  readonly manifest: Pick<InvestigationManifest, "name" | "units">;
  readonly columns: Pick<UnitColumns, "density"> & Partial<Pick<UnitColumns, "interpScore">>;
  readonly searchTable: readonly UnitSearchEntry[];
}

/**
 * Units whose name, label, top-activating tokens or top/bottom logit tokens contain the query (case-insensitive;
 * a query like "3450" or "A/1/3450" finds that unit). Exact token matches rank first, then by density.
 */
export function searchUnits(store: SearchableStore, query: string, options: SearchOptions = {}): SearchHit[] {
  const limit = options.limit ?? 50;
  const fields = new Set(options.fields ?? ["name", "label", "token", "logit"]);
  const q = query.trim().toLowerCase();
  if (q === "") return [];
  const hits: (SearchHit & { rank: number })[] = [];
  const prefix = `${store.manifest.name.toLowerCase()}/`;
  const asIndex = q.startsWith(prefix) ? q.slice(prefix.length) : q;
  for (let i = 0; i < store.manifest.units; i++) {
    const e = store.searchTable[i]!;
    const density = store.columns.density[i]!;
    const s = store.columns.interpScore?.[i];
    const score = s === undefined || Number.isNaN(s) ? null : s;
    const hit = (field: string, text: string, rank: number) => hits.push({ index: i, name: unitName(store.manifest.name, i), label: e.label, density, score, field, text, rank });
    if (fields.has("name") && /^\d+$/.test(asIndex) && Number(asIndex) === i) {
      hit("name", unitName(store.manifest.name, i), 0);
      continue;
    }
    if (fields.has("label") && e.label.toLowerCase().includes(q) && !e.topTokens.some((t) => t.toLowerCase().trim() === q)) {
      hit("label", e.label, 2);
      continue;
    }
    // Rank: exact name 0, exact top token 1, label 2, exact logit token 3, then partial matches (tokens before logits).
    const inList = (list: string[], field: string, exactRank: number, partialRank: number) => {
      for (const t of list) {
        const tl = t.toLowerCase();
        if (tl.trim() === q) return hit(field, t, exactRank), true;
      }
      for (const t of list) if (t.toLowerCase().includes(q)) return hit(field, t, partialRank), true;
      return false;
    };
    if (fields.has("token") && inList(e.topTokens, "top token", 1, 4)) continue;
    if (fields.has("logit") && (inList(e.logitTop, "top logit", 3, 5) || inList(e.logitBottom, "bottom logit", 3, 5))) continue;
  }
  hits.sort((a, b) => a.rank - b.rank || b.density - a.density || a.index - b.index);
  return hits.slice(0, limit).map(({ rank: _rank, ...h }) => h);
}

