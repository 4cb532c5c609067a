/**
 * The workspace: the unit sets under a models root (unit-sets.ts, from their manifests), loaded lazily
 * (workspace-loader.ts: a store when its set is first read, models, SAEs and tokenizers on first use), and what
 * the server, the dashboard files, `investigate` and the demo ask of them: units by name, run summaries, live
 * prompts, live units for new proxies and unit comparisons. Search and page data are src/vis/service.ts.
 *
 * Errors a caller can act on have their own classes: names.ts' `UnitNameError` (a malformed name or request:
 * HTTP 400), errors.ts' `NotFoundError` (an unknown set or model, an index out of range: 404), `UnavailableError`
 * (valid, but this workspace cannot serve it, e.g. a prompt on a run whose SAE weights are not there: 409),
 * `TooLargeError` (a prompt longer than the model's context: 413); prompt.ts' `PromptError` (an empty prompt: 400).
 */
import type { Tokenizer } from "../data/tokenizer.js";
import { parseUnitName, UnitNameError } from "../names.js";
import { DENSE_FEATURE_THRESHOLD } from "../sae/eval.js";
import { densitySummary } from "../sae/density.js";
import { NotFoundError, TooLargeError, UnavailableError } from "./errors.js";
import { familyView } from "./family-view.js";
import { hasAtlas } from "./atlas-store.js";
import type { RunFigures } from "./run-figures.js";
import { runFiguresView } from "./run-figures-view.js";
import type { LiveUnit } from "./live-proxy.js";
import { analyzePrompt, type PromptOptions } from "./prompt.js";
import { shippedModelsRoot } from "./shipped-models.js";
import type { InvestigationStore } from "./store.js";
import { compareUnits, type ResolvedUnit, type UnitComparison } from "./unit-compare.js";
import type { PromptAnalysis, RunInfo, UnitColumns, UnitRecord } from "./unit-record.js";
import { UnitSetRegistry, type UnitSetEntry } from "./unit-sets.js";
import { WorkspaceLoader } from "./workspace-loader.js";

export { NotFoundError, TooLargeError, UnavailableError, UnitNameError, shippedModelsRoot };

export type { RunInfo };

export class Workspace {
  readonly root: string;
  private readonly registry: UnitSetRegistry;
  readonly loader = new WorkspaceLoader();
  private readonly infos = new Map<string, RunInfo>();

  constructor(root: string) {
    this.registry = new UnitSetRegistry(root);
    this.root = this.registry.root;
  }

  /** Investigations that could not be opened (no or a bad manifest, damaged files, a duplicate name), one line each. */
  get problems(): string[] {
    return this.registry.problems;
  }

  /** Loads what the first page view would otherwise wait for (each model's tokenizer). Errors are left for later. */
  warm(): void {
    for (const s of this.registry.list()) {
      try {
        this.loader.tokenizer(s.model, s.storeDir);
      } catch {
        // reported when a unit of this set is read
      }
    }
  }

  /** Every unit set that opens: models in name order, SAE runs by number, then the model's neurons. */
  runs(): RunInfo[] {
    const out: RunInfo[] = [];
    for (const s of this.registry.list()) {
      try {
        out.push(this.info(s));
      } catch (e) {
        const line = `${s.storeDir}: ${(e as Error).message}`;
        if (!this.problems.includes(line)) this.problems.push(line);
      }
    }
    return out;
  }

  runInfoOf(run: string): RunInfo {
    return this.info(this.registry.get(run));
  }

  /** Per-unit scalars of a set (density, max activation, loss effect, …) for tables and picking examples. */
  columnsOf(run: string): UnitColumns {
    return this.store(run).columns;
  }

  /** The opened store of a unit set (opened now if it was not). */
  store(run: string): InvestigationStore {
    return this.loader.store(this.registry.get(run));
  }

  private info(set: UnitSetEntry): RunInfo {
    const cached = this.infos.get(set.name);
    if (cached) return cached;
    const inv = this.loader.store(set);
    const m = inv.manifest;
    let dead = 0;
    let dense = 0;
    for (const d of inv.columns.density) {
      if (d === 0) dead++;
      else if (d > DENSE_FEATURE_THRESHOLD) dense++;
    }
    const info: RunInfo = {
      name: m.name, model: set.model.name, kind: m.kind, units: m.units, tokens: m.tokens, hook: m.hook, sae: m.sae, compare: m.compare,
      densityHistogram: m.densityHistogram, dead, dense, lowDensity: densitySummary(inv.columns.density).below,
      ...(m.interpretability ? { interpretability: m.interpretability } : {}),
      promptable: set.kind === "feature" && set.model.hasWeights && this.loader.hasSaeWeights(set),
    };
    if (set.kind === "feature" && hasAtlas(set.storeDir)) info.atlas = true;
    const figures = this.figuresOf(set, inv);
    if (figures) info.figures = figures;
    this.infos.set(set.name, info);
    return info;
  }

  /** The run-level figures of a feature set (run-figures-view.ts); sibling stores that do not open are left out. */
  private figuresOf(set: UnitSetEntry, store: InvestigationStore): RunFigures | null {
    if (set.kind !== "feature") return null;
    const siblings: InvestigationStore[] = [];
    for (const s of this.registry.list()) {
      if (s.kind !== "feature" || s.name === set.name || s.model.name !== set.model.name) continue;
      try {
        siblings.push(this.loader.store(s));
      } catch {
        // reported by runs() when that set is listed
      }
    }
    const storeOf = (run: string) => {
      try {
        return this.storeIfAny(run);
      } catch {
        return null;
      }
    };
    return runFiguresView({ store, siblings, storeOf });
  }

  /** The set and index a unit name points at (UnitNameError / NotFoundError otherwise). */
  resolve(name: string): ResolvedUnit & { name: string } {
    const parsed = parseUnitName(name);
    const set = this.registry.get(parsed.name);
    const n = set.manifest.units;
    if (parsed.index >= n) {
      const what = set.kind === "feature" ? "features" : "neurons";
      throw new NotFoundError(`${parsed.name} has ${n} ${what} (0–${n - 1}); ${parsed.index} is out of range`);
    }
    return { set, index: parsed.index, name: parsed.unit };
  }

  /** The full record of `A/1/3450` or `A/neuron/489` (opens only that unit's store). */
  unit(name: string): UnitRecord {
    const { set, index } = this.resolve(name);
    const store = this.loader.store(set);
    const record = store.unit(index);
    const family = familyView(store, index, (run) => this.storeIfAny(run));
    if (family) record.family = family;
    return record;
  }

  /** A unit set's store when the workspace has it (opened now if it was not), else null. */
  storeIfAny(run: string): InvestigationStore | null {
    try {
      return this.store(run);
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
  }

  /**
   * What re-scoring a unit against a new proxy needs (live-proxy.ts): its model, SAE (null for a neuron), hook and
   * index, the store it belongs to (whose tokens are re-streamed) and the model's tokenizer.
   */
  liveUnit(name: string): { unit: LiveUnit; store: InvestigationStore; tokenizer: Tokenizer } {
    const { set, index } = this.resolve(name);
    const hook = set.manifest.hook;
    const sae = set.kind === "feature" ? this.loader.sae(set).sae : null;
    const model = this.loader.model(set.model, hook);
    return { unit: { model, sae, hook, index }, store: this.loader.store(set), tokenizer: this.loader.tokenizer(set.model, set.storeDir) };
  }

  /** Analyses a prompt live on an SAE run (model, SAE and tokenizer loaded on first use). */
  prompt(run: string, text: string, options: PromptOptions = {}): PromptAnalysis {
    const set = this.registry.get(run);
    if (set.kind !== "feature") throw new UnitNameError(`${run} is a model's neurons; prompts are analysed on an SAE run (e.g. ${set.model.name}/1)`);
    const { sae } = this.loader.sae(set);
    const hook = set.manifest.hook;
    const model = this.loader.model(set.model, hook);
    const search = this.loader.store(set).searchTable;
    const tokenizer = this.loader.tokenizer(set.model, set.storeDir);
    const maxTokens = Math.min(options.maxTokens ?? model.cfg.n_ctx, model.cfg.n_ctx);
    const n = typeof text === "string" ? tokenizer.encode(text).length : 0;
    if (n > maxTokens) {
      throw new TooLargeError(`the prompt has ${n} tokens; at most ${maxTokens} fit (model ${set.model.name}'s context is ${model.cfg.n_ctx} tokens)`);
    }
    return analyzePrompt({ run: set.name, model, sae, tokenizer, hook, labels: (i) => search[i]?.label ?? null }, text, options);
  }

  /** Activations on shared tokens and logit weights of two units, with their canonical names (unit-compare.ts). */
  compareUnits(a: string, b: string): UnitComparison & { a: string; b: string } {
    const ua = this.resolve(a);
    const ub = this.resolve(b);
    return { ...compareUnits(this.loader, ua, ub, [a, b]), a: ua.name, b: ub.name };
  }

  close(): void {
    this.loader.close();
  }
}

/** The workspace of every unit set under `root` (default: the shipped models); stores open on first use. */
export function openWorkspace(root: string = shippedModelsRoot()): Workspace {
  return new Workspace(root);
}
