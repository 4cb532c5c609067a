/**
 * Names of analysed units and of the unit sets they belong to — one grammar for the store writer (`analyze`), the
 * store reader, the server and the browser app. Pure (no Node imports): the browser bundle imports it as
 * `saekit/names`.
 *
 *   unit set  MODEL/SET     `A/1` (the features of SAE folder `A/1`), `A/neuron` (the MLP neurons of model A)
 *   unit      MODEL/SET/N   `A/1/3450` (feature 3450 of A/1), `A/neuron/489` (neuron 489 of model A)
 *
 * MODEL and SET are folder names (the model folder, the SAE folder inside it): a letter, digit or `_`, then
 * letters, digits, `_`, `.` or `-` (an SAE trained with `--out runs/A-1` on model folder `models/A` is `A/A-1`).
 * `neuron` is reserved for a model's neurons, so an SAE folder cannot be called that. A SET made of digits is
 * canonical without leading zeros (`A/01` and `A/1` are one set), everything else is taken literally.
 *
 * Words (docs/conventions.md), one per meaning:
 *   SAE run         a trained SAE folder (`sae train --out`), e.g. models/A/1; `analyze --sae`, `prompt --sae`
 *   neuron set      a model's MLP neurons as analysed units (`A/neuron`)
 *   unit set        either of the two as `analyze` investigated it and the dashboards list it (the API's
 *                   /api/runs and RunInfo keep their wire names)
 *   forward pass    what `model run` does with text, and HookedTransformer.forward (internally throughBlocks)
 *   training record model training's run.json (the config, data and schedule a resume must match)
 * and for the "investigat*" files: an *investigation store* (store/, InvestigationStore, on disk), a *unit record*
 * (unit-record.ts, what a dashboard renders) and a *live proxy* (live-proxy.ts, one unit re-scored against a proxy).
 */

/** The SET segment of a model's neurons. */
export const NEURON_SET = "neuron";

/** A malformed unit or unit-set name (HTTP 400). */
export class UnitNameError extends Error {
  override name = "UnitNameError";
}

export type UnitKind = "feature" | "neuron";

export interface ParsedUnitSetName {
  model: string;
  /** The SAE folder's name (`1`, `A-1`) or `neuron`. */
  set: string;
  kind: UnitKind;
  /** The canonical `MODEL/SET`. */
  name: string;
}

export interface ParsedUnitName extends ParsedUnitSetName {
  index: number;
  /** The canonical `MODEL/SET/N`. */
  unit: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const EXAMPLES = "MODEL/RUN/INDEX (e.g. A/1/3450) or MODEL/neuron/INDEX (e.g. A/neuron/489)";

/** Whether `s` can be a MODEL or SET segment. */
export function isNameSegment(s: string): boolean {
  return typeof s === "string" && s.length <= 128 && SEGMENT.test(s);
}

function shown(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
}

/** A SET segment in canonical form: digits without leading zeros, anything else unchanged. */
function canonicalSet(set: string): string {
  return /^\d+$/.test(set) ? String(Number(set)) : set;
}

function checkSegment(segment: string, what: string, context: string): void {
  if (!isNameSegment(segment)) {
    throw new UnitNameError(
      `${context}: ${JSON.stringify(segment)} is not a valid ${what} name (a letter, digit or _, then letters, digits, _, . or -)`,
    );
  }
}

/**
 * The unit-set name of an SAE run from its two folder names (`models/A` + `models/A/1` → `A/1`); what the writer
 * stores and the reader looks up. Throws UnitNameError for a folder name outside the grammar.
 */
export function unitSetName(model: string, set: string): string {
  const context = `unit set ${shown(`${model}/${set}`)}`;
  checkSegment(model, "model", context);
  checkSegment(set, "SAE run", context);
  if (set === NEURON_SET) throw new UnitNameError(`${context}: "${NEURON_SET}" is reserved for a model's neurons; rename the SAE folder or pass another name`);
  return `${model}/${canonicalSet(set)}`;
}

/** `A/neuron`: the unit set of model A's MLP neurons. */
export function neuronSetName(model: string): string {
  checkSegment(model, "model", `neuron set of ${shown(model)}`);
  return `${model}/${NEURON_SET}`;
}

/** Splits `A/1` or `A/neuron`; throws UnitNameError naming what is wrong. */
export function parseUnitSetName(name: string): ParsedUnitSetName {
  if (typeof name !== "string" || name.trim() === "") throw new UnitNameError("missing unit-set name: expected MODEL/SET (e.g. A/1) or MODEL/neuron");
  const parts = name.split("/");
  if (parts.length !== 2) throw new UnitNameError(`malformed unit-set name ${shown(name)}: expected MODEL/SET (e.g. A/1) or MODEL/neuron`);
  const [model, set] = parts as [string, string];
  const context = `malformed unit-set name ${shown(name)}`;
  checkSegment(model, "model", context);
  checkSegment(set, "set", context);
  const kind: UnitKind = set === NEURON_SET ? "neuron" : "feature";
  return { model, set: canonicalSet(set), kind, name: `${model}/${canonicalSet(set)}` };
}

/** Splits `A/1/3450` or `A/neuron/489`; throws UnitNameError naming what is wrong. */
export function parseUnitName(name: string): ParsedUnitName {
  if (typeof name !== "string" || name.trim() === "") throw new UnitNameError(`missing unit name: expected ${EXAMPLES}`);
  const parts = name.split("/");
  if (parts.length !== 3) {
    throw new UnitNameError(`malformed unit name ${shown(name)}: expected ${EXAMPLES}, got ${parts.length} part${parts.length === 1 ? "" : "s"}`);
  }
  const [model, set, index] = parts as [string, string, string];
  const context = `malformed unit name ${shown(name)}`;
  checkSegment(model, "model", context);
  checkSegment(set, "SAE run (or neuron)", context);
  if (!/^\d+$/.test(index)) throw new UnitNameError(`${context}: the index must be a non-negative integer, got ${JSON.stringify(index)}`);
  const setName = `${model}/${canonicalSet(set)}`;
  const i = Number(index);
  return { model, set: canonicalSet(set), kind: set === NEURON_SET ? "neuron" : "feature", name: setName, index: i, unit: `${setName}/${i}` };
}

/** `A/1` + 3450 → `A/1/3450`. */
export function unitName(set: string, index: number): string {
  return `${set}/${index}`;
}

/** The unit set of a unit name without checking it (`A/1/3450` → `A/1`). */
export function unitSetOf(unit: string): string {
  return unit.slice(0, unit.lastIndexOf("/"));
}

/** The model of a unit-set name (`A/1` → `A`). */
export function modelOf(set: string): string {
  const i = set.indexOf("/");
  return i < 0 ? set : set.slice(0, i);
}

/** The app page of a unit: `A/1/3450` → `/feature/A/1/3450`, `A/neuron/489` → `/neuron/A/489`. */
export function unitPath(name: string): string {
  const parts = name.split("/");
  if (parts.length === 3 && parts[1] === NEURON_SET) return `/neuron/${encodeURIComponent(parts[0]!)}/${encodeURIComponent(parts[2]!)}`;
  return `/feature/${parts.map(encodeURIComponent).join("/")}`;
}

/** The unit name of an app page's path segments after `feature` or `neuron` (inverse of unitPath), or null. */
export function unitFromPath(head: string, rest: readonly string[]): { kind: UnitKind; name: string } | null {
  if (head === "feature" && rest.length >= 2) return { kind: "feature", name: rest.join("/") };
  if (head === NEURON_SET && rest.length === 2) return { kind: "neuron", name: `${rest[0]}/${NEURON_SET}/${rest[1]}` };
  return null;
}
