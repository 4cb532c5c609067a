/**
 * A feature's family as the feature page and `saekit family` show it (family-types.ts FamilyView): its parent in
 * the next smaller run and its children in the next larger one, from its store's family.safetensors, with each
 * member's label, density and top tokens from that run's own store when it is loaded.
 */
import { unitName } from "../names.js";
import { readFamily } from "./family-store.js";
import type { FamilySide } from "./family.js";
import type { FamilyMember, FamilySideView, FamilyView } from "./family-types.js";
import type { InvestigationStore } from "./store.js";

/**
 * Children below this decoder cosine are counted, not listed: every feature of the larger run has a nearest feature
 * here, however far (on A/0 → A/1 most children of a feature sit above 0.5, the rest below 0.3).
 */
export const FAMILY_MIN_CHILD_COS = 0.3;

/** Top tokens shown per member. */
const MEMBER_TOP_TOKENS = 6;

const sides = new WeakMap<InvestigationStore, FamilySide[] | null>();

/** The family links of a store, read once (null when it was analysed without --family). */
export function familySidesOf(store: InvestigationStore): FamilySide[] | null {
  if (!sides.has(store)) {
    const m = store.manifest;
    sides.set(store, m.kind === "feature" && m.family ? readFamily(store.dir, m.units, m.checksums?.[m.family.file]) : null);
  }
  return sides.get(store)!;
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

function member(run: string, index: number, cos: number, r: number, other: InvestigationStore | null): FamilyMember {
  const known = other !== null && index < other.units;
  return {
    name: unitName(run, index),
    index,
    cos: num(cos),
    r: num(r),
    label: known ? other.searchTable[index]!.label : null,
    density: known ? other.columns.density[index]! : null,
    topTokens: known ? other.searchTable[index]!.topTokens.slice(0, MEMBER_TOP_TOKENS) : [],
  };
}

function sideView(s: FamilySide, f: number, found: InvestigationStore | null): FamilySideView {
  // A store of another dictionary under the same name (re-trained since) is not this run's.
  const other = found !== null && found.units === s.units ? found : null;
  const members: FamilySideView["members"] = [];
  const seen = new Set<number>();
  const add = (index: number, cos: number, r: number, relation: FamilySideView["members"][number]["relation"]) => {
    if (index < 0 || seen.has(index)) return;
    seen.add(index);
    members.push({ ...member(s.run, index, cos, r, other), relation });
  };
  let weakChildren = 0;
  if (s.side === "larger") {
    for (let e = s.inverseStart[f]!; e < s.inverseStart[f + 1]!; e++) {
      if (s.inverseCos[e]! >= FAMILY_MIN_CHILD_COS) add(s.inverseIndex[e]!, s.inverseCos[e]!, s.inverseR[e]!, "child");
      else weakChildren++;
    }
  }
  for (let j = 0; j < s.k; j++) {
    const relation = s.side === "smaller" && j === 0 ? "parent" : "nearest by cosine";
    add(s.cosIndex[f * s.k + j]!, s.cosValue[f * s.k + j]!, s.cosR[f * s.k + j]!, relation);
  }
  for (let j = 0; j < s.k; j++) add(s.rIndex[f * s.k + j]!, s.rCos[f * s.k + j]!, s.rValue[f * s.k + j]!, "nearest by r");
  return { side: s.side, run: s.run, units: s.units, available: other !== null, members, weakChildren };
}

/**
 * The family of feature `index` of `store` (null when the store has no family links). `storeOf` returns a run's
 * store when the workspace has it (members then carry labels, densities and top tokens), else null.
 */
export function familyView(store: InvestigationStore, index: number, storeOf: (run: string) => InvestigationStore | null): FamilyView | null {
  const all = familySidesOf(store);
  if (all === null) return null;
  return { sides: all.map((s) => sideView(s, index, storeOf(s.run))) };
}
