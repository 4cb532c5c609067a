/**
 * The "Related units" of one unit as a page shows them (GET /api/related/A/1/617, `saekit related --json`): what
 * analyze stored (related-units.ts: top matches both ways, nearest features by activation r, a neuron's features),
 * completed on demand from what any store has — decoder-cosine neighbours from the SAE weights, the top-k logit
 * token overlap of matched pairs from both records' stored logit tokens, and on stores written before related units
 * the best match's own best match back (from the compared run's store) and a neuron's features by the feature
 * table's best-neuron column. What cannot be computed is named in `notes` (re-run `saekit analyze`).
 */
export type { RelatedMatch, RelatedRun, RelatedScored, RelatedTokenOverlap, RelatedUnit, RelatedUnitsView };
import { modelOf, unitName } from "../names.js";
import { decoderNeighbours, isMutual, logitOverlap, RELATED_NEIGHBOURS, RELATED_NEURON_FEATURES } from "./related-units.js";
import type { RelatedMatch, RelatedRun, RelatedScored, RelatedTokenOverlap, RelatedUnit, RelatedUnitsView } from "./related-types.js";
import type { UnitRecord } from "./unit-record.js";
import type { Workspace } from "./workspace.js";

const RERUN = "re-run `saekit analyze` to see";
const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The related units of `name` (a feature or a neuron) in `ws`. */
export function relatedUnits(ws: Workspace, name: string): RelatedUnitsView {
  const u = ws.unit(name);
  const run = u.name.slice(0, u.name.lastIndexOf("/"));
  const notes: string[] = [];
  const records = new Map<string, UnitRecord | null>();
  const record = (n: string): UnitRecord | null => {
    if (!records.has(n)) {
      try {
        records.set(n, ws.unit(n));
      } catch {
        records.set(n, null);
      }
    }
    return records.get(n)!;
  };
  const describe = (n: string, index: number): RelatedUnit => {
    const r = record(n);
    return { name: n, index, label: r?.label ?? "", density: r?.density ?? null };
  };

  const runs: RelatedRun[] = [];
  const stored = u.related?.matches ?? {};
  for (const [other, best] of Object.entries(u.matches)) {
    const list = stored[other];
    const source: RelatedRun["source"] = list ? "analysis" : "best match";
    const entries = list ?? [{ ...best, reverse: reverseOf(record(best.name), run) }];
    if (!list) notes.push(`${other}: only the best match is stored (${RERUN} the top ${5} matches both ways)`);
    const matches = entries.map((m, i): RelatedMatch => {
      const b = record(m.name);
      const overlap = b ? overlapOf(u, b) : null;
      return {
        ...describe(m.name, m.index), rank: i + 1, r: nullIfNaN(m.r),
        logitR: m.name === best.name ? best.logitR : null,
        reverse: m.reverse ? { ...describe(m.reverse.name, m.reverse.index), r: nullIfNaN(m.reverse.r) } : null,
        mutual: m.reverse ? isMutual(u.index, m.reverse.index) : null,
        logitOverlap: overlap,
      };
    });
    if (matches.some((m) => m.reverse === null)) notes.push(`${other}: the best match back is unknown where no store of ${other} was analysed with --compare ${run}`);
    runs.push({ run: other, source, matches });
  }

  let decoder: RelatedScored[] | null = null;
  let coactivation: RelatedScored[] | null = null;
  let features: RelatedScored[] | null = null;
  let featuresSource: RelatedUnitsView["featuresSource"] = null;
  if (u.kind === "feature") {
    try {
      const { set } = ws.resolve(u.name);
      const { sae } = ws.loader.sae(set);
      decoder = decoderNeighbours(sae.dec, sae.dSae, sae.dIn, u.index, RELATED_NEIGHBOURS).map(([i, c]) => ({ ...describe(unitName(run, i), i), value: c }));
    } catch (e) {
      notes.push(`decoder cosine: ${(e as Error).message}`);
    }
    if (u.related?.coactivation) {
      coactivation = u.related.coactivation.map((c) => ({ ...describe(c.name, c.index), value: nullIfNaN(c.r) }));
    } else {
      notes.push(`nearest features by activation r: ${RERUN} them`);
    }
  } else if (u.related?.features) {
    features = u.related.features.map((c) => ({ ...describe(c.name, c.index), value: nullIfNaN(c.r) }));
    featuresSource = "analysis";
  } else {
    features = bestNeuronFeatures(ws, modelOf(run), u.index).map((f) => ({ ...describe(f.name, f.index), value: f.r }));
    featuresSource = "best neuron";
    notes.push(`correlated features: only the features whose best-correlated neuron this is (${RERUN} the top ${RELATED_NEURON_FEATURES} by r)`);
  }
  return { unit: u.name, kind: u.kind, runs, decoder, coactivation, features, featuresSource, notes };
}

/** A compared unit's own best match in `run`, from its record (older stores: its store must compare with `run`). */
function reverseOf(b: UnitRecord | null, run: string): { name: string; index: number; r: number } | null {
  const m = b?.matches[run];
  return m ? { name: m.name, index: m.index, r: m.r } : null;
}

/** Top-k logit token overlap of two records (their stored top and bottom logit lists). */
export function overlapOf(a: UnitRecord, b: UnitRecord): RelatedMatch["logitOverlap"] {
  const ids = (r: UnitRecord) => ({ top: r.logits.top.map((t) => t.id), bottom: r.logits.bottom.map((t) => t.id) });
  const o = logitOverlap(ids(a), ids(b));
  const text = new Map([...a.logits.top, ...a.logits.bottom].map((t) => [t.id, t.text]));
  const side = (s: typeof o.top): RelatedTokenOverlap => ({ shared: s.shared, jaccard: s.jaccard, k: s.k, tokens: s.tokens.map((t) => text.get(t) ?? String(t)) });
  return { top: side(o.top), bottom: side(o.bottom) };
}

/** Features of the model's SAE runs whose best-correlated neuron is `neuron` (the stored bestNeuron column), by r. */
function bestNeuronFeatures(ws: Workspace, model: string, neuron: number): { name: string; index: number; r: number }[] {
  const out: { name: string; index: number; r: number }[] = [];
  for (const info of ws.runs()) {
    if (info.kind !== "feature" || info.model !== model) continue;
    const c = ws.columnsOf(info.name);
    for (let f = 0; f < c.bestNeuron.length; f++) {
      if (c.bestNeuron[f] === neuron && Number.isFinite(c.bestNeuronR[f]!)) out.push({ name: unitName(info.name, f), index: f, r: c.bestNeuronR[f]! });
    }
  }
  return out.sort((x, y) => y.r - x.r || (x.name < y.name ? -1 : 1)).slice(0, RELATED_NEURON_FEATURES);
}
