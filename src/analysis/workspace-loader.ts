/**
 * The workspace's loader cache: investigation stores, tokenizers, models, SAEs and output directions, each loaded on
 * first use and kept. Stores are opened one at a time as a unit set is first read (showing one unit opens one
 * store), never all at once.
 */
import fs from "node:fs";
import path from "node:path";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer.js";
import { loadModelTokenizer } from "../model/run.js";
import type { HookedTransformer } from "../model/transformer.js";
import { loadSaeFolder, SAE_WEIGHTS_FILE, SPARSIFY_WEIGHTS_FILE, type LoadedSae } from "../sae/format.js";
import { HookMismatchError, loadHookedModel } from "../sae/run-folder.js";
import { outputDirections } from "./ablation.js";
import { UnavailableError } from "./errors.js";
import { openInvestigation, type InvestigationStore, type TokenTexts } from "./store.js";
import type { ModelEntry, UnitSetEntry } from "./unit-sets.js";

/** Token texts of one model's tokenizer, loaded on the first call and memoised per id. */
class LazyTexts implements TokenTexts {
  private readonly texts = new Map<number, string>();
  constructor(private readonly tokenizer: () => Tokenizer) {}
  tokenText(id: number): string {
    let t = this.texts.get(id);
    if (t === undefined) {
      t = this.tokenizer().tokenText(id);
      this.texts.set(id, t);
    }
    return t;
  }
}

export class WorkspaceLoader {
  private readonly stores = new Map<string, InvestigationStore>();
  private readonly tokenizers = new Map<string, Tokenizer>();
  private readonly models = new Map<string, HookedTransformer>();
  private readonly saes = new Map<string, LoadedSae>();
  private readonly directions = new Map<string, Float32Array>();
  /** Hook activations of comparisons, by model, hook and source store. */
  readonly activations = new Map<string, Float32Array>();

  /** The unit set's store, opened (and validated) on first use. */
  store(set: UnitSetEntry): InvestigationStore {
    let s = this.stores.get(set.name);
    if (!s) {
      s = openInvestigation(set.storeDir, new LazyTexts(() => this.tokenizer(set.model, set.storeDir)));
      this.stores.set(set.name, s);
    }
    return s;
  }

  /** The unit sets whose stores are open, in the order they were opened. */
  openedStores(): string[] {
    return [...this.stores.keys()];
  }

  tokenizer(model: ModelEntry, where: string): Tokenizer {
    let t = this.tokenizers.get(model.name);
    if (t) return t;
    if (model.cfg) t = loadModelTokenizer(model.dir, model.cfg);
    else {
      const manifest = JSON.parse(fs.readFileSync(path.join(where, "manifest.json"), "utf8")) as { tokenizer?: string };
      if (manifest.tokenizer !== "gpt2") {
        throw new UnavailableError(`${where}: tokenizer ${JSON.stringify(manifest.tokenizer)} needs the model folder's config.json (${model.dir})`);
      }
      t = loadGpt2Tokenizer();
    }
    this.tokenizers.set(model.name, t);
    return t;
  }

  model(entry: ModelEntry, hook: string): HookedTransformer {
    const cached = this.models.get(entry.name);
    if (cached) {
      if (!cached.hookNames().includes(hook)) throw new UnavailableError(`model ${entry.name} has no hook point ${hook}`);
      return cached;
    }
    if (!entry.hasWeights) throw new UnavailableError(`model ${entry.name}: no weights in ${entry.dir} (config.json and model.safetensors are needed)`);
    try {
      const { model } = loadHookedModel(entry.dir, hook);
      this.models.set(entry.name, model);
      return model;
    } catch (e) {
      if (e instanceof HookMismatchError) throw new UnavailableError(`model ${entry.name} has no hook point ${hook}`);
      throw e;
    }
  }

  /** Whether the SAE weights of a feature set are in its folder. */
  hasSaeWeights(set: UnitSetEntry): boolean {
    return set.saeDir !== null && (fs.existsSync(path.join(set.saeDir, SAE_WEIGHTS_FILE)) || fs.existsSync(path.join(set.saeDir, SPARSIFY_WEIGHTS_FILE)));
  }

  sae(set: UnitSetEntry): LoadedSae {
    const cached = this.saes.get(set.name);
    if (cached) return cached;
    if (set.saeDir === null) throw new UnavailableError(`${set.name} is not an SAE run`);
    if (!set.model.hasWeights || !this.hasSaeWeights(set)) {
      throw new UnavailableError(`${set.name}: the SAE weights (${path.join(set.saeDir, SAE_WEIGHTS_FILE)}) or the model weights (${set.model.dir}) are not there`);
    }
    const loaded = loadSaeFolder(set.saeDir);
    if (loaded.sae.dSae !== set.manifest.units) {
      throw new UnavailableError(`${set.name}: the SAE in ${set.saeDir} has ${loaded.sae.dSae} features but its investigation has ${set.manifest.units}; rerun saekit analyze`);
    }
    this.saes.set(set.name, loaded);
    return loaded;
  }

  /** The output directions of a unit set's units (ablation.ts outputDirections), cached. */
  outputDirections(set: UnitSetEntry): Float32Array {
    let d = this.directions.get(set.name);
    if (!d) {
      const model = this.model(set.model, set.manifest.hook);
      d = outputDirections(model, set.kind === "feature" ? this.sae(set).sae : null);
      this.directions.set(set.name, d);
    }
    return d;
  }

  close(): void {
    for (const s of this.stores.values()) s.close();
    this.stores.clear();
  }
}
