/**
 * The registry of unit sets under a models root: which investigations exist, their names and folders, read from
 * each store's manifest.json alone (no store is opened here; workspace-loader.ts opens them on first use).
 *
 * Layout (the shipped `models/` folder; sae/run-folder.ts owns it, names.ts the names):
 *   ROOT/A/config.json + model.safetensors       model A
 *   ROOT/A/investigation/                        its MLP neurons, the unit set "A/neuron" (units A/neuron/489)
 *   ROOT/A/1/cfg.json + sae_weights.safetensors  SAE run 1 on A
 *   ROOT/A/1/investigation/                      its features, the unit set "A/1" (units A/1/3450)
 * ROOT may also be a single model folder. Set and model names come from the manifests.
 */
import fs from "node:fs";
import path from "node:path";
import { findWeightsFile, loadModelConfig } from "../model/checkpoint.js";
import type { ModelConfig } from "../model/config.js";
import { parseUnitSetName, type UnitKind } from "../names.js";
import { INVESTIGATION_DIR } from "../sae/run-folder.js";
import { NotFoundError } from "./errors.js";
import { readManifest } from "./store/reader.js";
import type { InvestigationManifest } from "./unit-record.js";

export interface ModelEntry {
  name: string;
  dir: string;
  /** config.json, or null for a folder without one (its investigations are still readable). */
  cfg: ModelConfig | null;
  hasWeights: boolean;
}

export interface UnitSetEntry {
  name: string;
  kind: UnitKind;
  model: ModelEntry;
  /** The SAE folder of a feature set, null for a model's neurons. */
  saeDir: string | null;
  /** The investigation store's folder. */
  storeDir: string;
  manifest: InvestigationManifest;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Models in name order; within a model its SAE runs (numbers in numeric order, then other names), then its neurons. */
function bySetOrder(a: UnitSetEntry, b: UnitSetEntry): number {
  if (a.model.name !== b.model.name) return a.model.name < b.model.name ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === "feature" ? -1 : 1;
  const sa = parseUnitSetName(a.name).set;
  const sb = parseUnitSetName(b.name).set;
  const na = /^\d+$/.test(sa) ? Number(sa) : Infinity;
  const nb = /^\d+$/.test(sb) ? Number(sb) : Infinity;
  return na - nb || (sa < sb ? -1 : sa > sb ? 1 : 0);
}

export class UnitSetRegistry {
  readonly root: string;
  /** Investigations that cannot be listed (no or a bad manifest, a duplicate name), one line each. */
  readonly problems: string[] = [];
  private readonly models = new Map<string, ModelEntry>();
  private readonly sets = new Map<string, UnitSetEntry>();
  private readonly ordered: UnitSetEntry[];

  constructor(root: string) {
    this.root = path.resolve(root);
    if (!isDir(this.root)) throw new NotFoundError(`models folder ${this.root} does not exist`);
    const modelDirs = fs.existsSync(path.join(this.root, "config.json"))
      ? [this.root]
      : fs.readdirSync(this.root).sort().map((d) => path.join(this.root, d)).filter((d) => isDir(d) && !path.basename(d).startsWith("."));
    for (const dir of modelDirs) this.scanModel(dir);
    this.ordered = [...this.sets.values()].sort(bySetOrder);
  }

  private scanModel(dir: string): void {
    const folders: { storeDir: string; saeDir: string | null }[] = [];
    const own = path.join(dir, INVESTIGATION_DIR);
    if (isDir(own)) folders.push({ storeDir: own, saeDir: null });
    for (const sub of fs.readdirSync(dir).sort()) {
      const subDir = path.join(dir, sub);
      if (sub === INVESTIGATION_DIR || sub.startsWith(".") || !isDir(subDir)) continue;
      const storeDir = path.join(subDir, INVESTIGATION_DIR);
      if (isDir(storeDir)) folders.push({ storeDir, saeDir: subDir });
    }
    if (folders.length === 0) return;
    let cfg: ModelConfig | null = null;
    if (fs.existsSync(path.join(dir, "config.json"))) {
      try {
        cfg = loadModelConfig(dir);
      } catch (e) {
        this.problems.push(`${dir}: ${(e as Error).message}`);
      }
    }
    let hasWeights = false;
    try {
      hasWeights = cfg !== null && fs.existsSync(findWeightsFile(dir));
    } catch {
      hasWeights = false;
    }
    for (const { storeDir, saeDir } of folders) {
      let manifest: InvestigationManifest;
      try {
        manifest = readManifest(path.join(storeDir, "manifest.json"));
        parseUnitSetName(manifest.name);
      } catch (e) {
        this.problems.push(`${storeDir}: ${(e as Error).message}`);
        continue;
      }
      const name = manifest.model !== "" ? manifest.model : path.basename(dir);
      let model = this.models.get(name);
      if (model && model.dir !== dir) {
        this.problems.push(`${storeDir}: model ${name} is already the folder ${model.dir}; skipped`);
        continue;
      }
      if (!model) {
        model = { name, dir, cfg, hasWeights };
        this.models.set(name, model);
      }
      const existing = this.sets.get(manifest.name);
      if (existing) {
        this.problems.push(`${storeDir}: unit set ${manifest.name} is already ${existing.storeDir}; skipped`);
        continue;
      }
      const expectedKind: UnitKind = saeDir === null ? "neuron" : "feature";
      if (manifest.kind !== expectedKind) {
        this.problems.push(`${storeDir}: a ${manifest.kind} investigation in a ${expectedKind === "neuron" ? "model" : "SAE"} folder; skipped`);
        continue;
      }
      this.sets.set(manifest.name, { name: manifest.name, kind: manifest.kind, model, saeDir, storeDir, manifest });
    }
  }

  /** Every unit set, in listing order. */
  list(): UnitSetEntry[] {
    return [...this.ordered];
  }

  /** The unit set called `name` (canonical form, names.ts), or NotFoundError listing the known ones. */
  get(name: string): UnitSetEntry {
    const entry = this.sets.get(name);
    if (entry) return entry;
    const known = this.ordered.map((e) => e.name);
    const unreadable =
      this.problems.length === 0 ? "" : `; ${this.problems.length} investigation folder${this.problems.length === 1 ? "" : "s"} could not be read: ${this.problems[0]}`;
    throw new NotFoundError(
      `no run ${JSON.stringify(name)} in ${this.root} (${known.length > 0 ? `runs: ${known.join(", ")}` : "no investigations: run saekit analyze"}${unreadable})`,
    );
  }
}
