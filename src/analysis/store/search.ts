/**
 * Search over one investigation store: unit names, labels, every top-activating token (not only the first 8 that
 * search.json.gz of older stores keeps: the reader completes those lists from the records) and the top/bottom
 * logit tokens. Tokens match exactly — a leading space is part of the token (" import" is not "import") — and
 * case-sensitively unless `ignoreCase`. One ranking that compares across stores (it depends on the field and the kind
 * of match, never on the store):
 *   0 the unit's name (`3450`, `A/1/3450`)
 *   1 a top token equal to the query          2 a top or bottom logit token equal to it
 *   3 a top token equal but for surrounding whitespace ("import" finds " import")   4 the same for a logit token
 *   5 the label contains the query            6 a top token contains it             7 a logit token contains it
 * Within a rank: the matched token's place in its list (a unit's most frequent top token first), then density
 * (descending), then index. `exact` keeps ranks 0–2 only.
 */
import { unitName } from "../../names.js";
import type { InvestigationManifest, UnitColumns, UnitSearchEntry } from "../unit-record.js";

export type SearchMatch = "name" | "exact" | "trimmed" | "partial";

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
  /** How it matched: the name, the token exactly, equal but for surrounding whitespace, or contained. */
  match: SearchMatch;
  /** The ranking key (module doc): rank, then place of the token in its list. */
  rank: number;
  place: number;
}

export interface SearchOptions {
  limit?: number;
  /** Fold case (Unicode lower case) before comparing. */
  ignoreCase?: boolean;
  /** Only the name and exact token matches (ranks 0–2). */
  exact?: boolean;
  fields?: readonly ("name" | "label" | "token" | "logit")[];
}

/** What the search reads of a store. */
export interface SearchableStore {
  readonly manifest: Pick<InvestigationManifest, "name" | "units">;
  readonly columns: Pick<UnitColumns, "density"> & Partial<Pick<UnitColumns, "interpScore">>;
  readonly searchTable: readonly UnitSearchEntry[];
  /** Every unit's complete list of top-token texts (defaults to searchTable's lists). */
  allTopTokens?(): readonly (readonly string[])[];
}

/** The order of two hits (also across stores): rank, place, density descending, then index. */
export function compareHits(a: SearchHit, b: SearchHit): number {
  return a.rank - b.rank || a.place - b.place || b.density - a.density || a.index - b.index;
}

/** Every unit matching `query`, ranked (module doc); `limit` keeps the first ones. */
export function searchUnits(store: SearchableStore, query: string, options: SearchOptions = {}): SearchHit[] {
  const fields = new Set(options.fields ?? ["name", "label", "token", "logit"]);
  // A whitespace-only query is a real token (" ", "\n", an indentation run), so only "" finds nothing.
  if (typeof query !== "string" || query.length === 0) return [];
  const fold = options.ignoreCase ? (s: string) => s.toLowerCase() : (s: string) => s;
  const q = fold(query);
  const qTrim = q.trim();
  const hits: SearchHit[] = [];
  const nameQ = query.trim().toLowerCase();
  const prefix = `${store.manifest.name.toLowerCase()}/`;
  const asIndex = nameQ.startsWith(prefix) ? nameQ.slice(prefix.length) : nameQ;
  const nameIndex = /^\d+$/.test(asIndex) ? Number(asIndex) : -1;
  const topLists = store.allTopTokens ? store.allTopTokens() : store.searchTable.map((e) => e.topTokens);
  for (let i = 0; i < store.manifest.units; i++) {
    const e = store.searchTable[i]!;
    const density = store.columns.density[i]!;
    const s = store.columns.interpScore?.[i];
    const score = s === undefined || Number.isNaN(s) ? null : s;
    type Best = { field: string; text: string; match: SearchMatch; rank: number; place: number };
    let best = null as Best | null;
    const offer = (field: string, text: string, match: SearchMatch, rank: number, place: number) => {
      if (!best || rank < best.rank || (rank === best.rank && place < best.place)) best = { field, text, match, rank, place };
    };
    if (fields.has("name") && nameIndex === i) offer("name", unitName(store.manifest.name, i), "name", 0, 0);
    const lists: [string, readonly string[], number][] = [];
    if (fields.has("token")) lists.push(["top token", topLists[i] ?? e.topTokens, 0]);
    if (fields.has("logit")) lists.push(["top logit", e.logitTop, 1], ["bottom logit", e.logitBottom, 1]);
    for (const [field, list, logit] of lists) {
      list.forEach((t, place) => {
        const ft = fold(t);
        if (ft === q) offer(field, t, "exact", 1 + logit, place);
        else if (options.exact) return;
        else if (qTrim !== "" && ft.trim() === qTrim) offer(field, t, "trimmed", 3 + logit, place);
        else if (ft.includes(q)) offer(field, t, "partial", 6 + logit, place);
      });
    }
    if (!options.exact && fields.has("label") && fold(e.label).includes(q)) offer("label", e.label, "partial", 5, 0);
    if (best) hits.push({ index: i, name: unitName(store.manifest.name, i), label: e.label, density, score, ...best });
  }
  hits.sort(compareHits);
  return options.limit === undefined ? hits : hits.slice(0, options.limit);
}
