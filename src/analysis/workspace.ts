/**
 * The workspace: every investigation under a models root, resolved by name, for the server, the dashboard files
 * and the demo.
 *
 * Layout (the shipped `models/` folder; CONVENTIONS.md "Feature names"):
 *   ROOT/A/config.json + model.safetensors       model A
 *   ROOT/A/investigation/                        its MLP neurons, run "A/neuron" (units named A/neuron/489)
 *   ROOT/A/1/cfg.json + sae_weights.safetensors  SAE run 1 on A
 *   ROOT/A/1/investigation/                      its features, run "A/1" (units named A/1/3450)
 * ROOT may also be a single model folder. Run and model names come from the investigation manifests.
 *
 * Investigations are opened when the workspace is (a manifest, the index columns, the search table and the
 * evaluation tokens each: a few MB for the shipped runs); the model, SAE and tokenizer are loaded on first use
 * (a prompt, a comparison, the first token text) and kept.
 *
 * Errors a caller can act on have their own classes: `UnitNameError` (a malformed name or request: HTTP 400),
 * `NotFoundError` (an unknown run or model, an index out of range: 404), `UnavailableError` (the request is valid
 * but this workspace cannot serve it, e.g. a prompt on a run whose SAE weights are not there: 409), `TooLargeError`
 * (a prompt longer than the model's context: 413); `PromptError` (prompt.ts) is an empty prompt (400).
 */
import fs from "node:fs";
import path from "node:path";
import { packageInfo } from "../cli/package-info.js";
import { Tape } from "../core/autograd.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer.js";
import { findWeightsFile, loadModelConfig, loadModelFolder } from "../model/checkpoint.js";
import type { ModelConfig } from "../model/config.js";
import { loadModelTokenizer } from "../model/run.js";
import { HookedTransformer } from "../model/transformer.js";
import { DENSE_FEATURE_THRESHOLD } from "../sae/eval.js";
import { layerFromHookName, loadSaeFolder, SAE_WEIGHTS_FILE, SPARSIFY_WEIGHTS_FILE, type LoadedSae } from "../sae/format.js";
import type { CompareResponse, RunInfo, SearchResponse } from "../vis/api-types.js";
import type { LiveUnit } from "./investigate.js";
import type { PromptAnalysis, UnitColumns, UnitKind, UnitRecord } from "./investigation.js";
import { featureOutputDirections, logitWeights, neuronOutputDirections, type LogitWeightOptions } from "./logit-weights.js";
import { analyzePrompt, type PromptOptions } from "./prompt.js";
import { INVESTIGATION_DIR, openInvestigation, round4, type Investigation, type TokenTexts } from "./store.js";

/** A malformed unit name or request parameter (HTTP 400). */
export class UnitNameError extends Error {
  override name = "UnitNameError";
}

/** An unknown run or model, or a unit index out of range (HTTP 404). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A valid request this workspace cannot serve (no model or SAE weights for a prompt, …) (HTTP 409). */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/** A request over a size limit, e.g. a prompt longer than the model's context (HTTP 413). */
export class TooLargeError extends Error {
  override name = "TooLargeError";
}

/** The package's shipped `models/` folder (resolved from the package root, not the working directory). */
export function shippedModelsRoot(): string {
  return path.join(packageInfo().root, "models");
}

/**
 * Logit weights as the investigation stage (analyze.ts) computes them: ln_final.w folded into W_U and
 * TransformerLens' centring (see logit-weights.ts), so a comparison's numbers are the unit records' numbers.
 */
export const LOGIT_WEIGHT_OPTIONS: LogitWeightOptions = { centre: true };

/** Evaluation tokens a comparison reads (whole sequences, spread over the domains). */
export const COMPARE_TOKENS = 4096;
export const COMPARE_MAX_SEQUENCES = 32;
/** Vocabulary points a comparison sends for its logit-weight scatter (r is over the whole vocabulary). */
export const COMPARE_VOCAB_POINTS = 2000;
/** Of those, the most extreme tokens of each unit at each end. */
const COMPARE_VOCAB_EXTREMES = 50;

interface ModelEntry {
  name: string;
  dir: string;
  /** config.json, or null for a folder without one (its investigations are still readable). */
  cfg: ModelConfig | null;
  hasWeights: boolean;
  tokenizer?: Tokenizer;
  loaded?: HookedTransformer;
  neuronDirections?: Float32Array;
}

interface RunEntry {
  name: string;
  kind: UnitKind;
  model: ModelEntry;
  /** The SAE folder of a feature run. */
  saeDir: string | null;
  investigation: Investigation;
  info: RunInfo;
  sae?: LoadedSae;
  featureDirections?: Float32Array;
}

export interface ParsedUnitName {
  model: string;
  /** "1" for an SAE run, "neuron" for neurons. */
  run: string;
  index: number;
  /** The run's name, e.g. "A/1" or "A/neuron". */
  runName: string;
}

const NAME_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Splits `A/1/3450` or `A/neuron/489`; throws UnitNameError naming what is wrong. */
export function parseUnitName(name: string): ParsedUnitName {
  if (typeof name !== "string" || name.trim() === "") {
    throw new UnitNameError("missing unit name: expected MODEL/RUN/INDEX (e.g. A/1/3450) or MODEL/neuron/INDEX (e.g. A/neuron/489)");
  }
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
  const parts = name.split("/");
  if (parts.length !== 3) {
    throw new UnitNameError(
      `malformed unit name ${shown}: expected MODEL/RUN/INDEX (e.g. A/1/3450) or MODEL/neuron/INDEX (e.g. A/neuron/489), got ${parts.length} part${parts.length === 1 ? "" : "s"}`,
    );
  }
  const [model, run, index] = parts as [string, string, string];
  if (!NAME_SEGMENT.test(model)) throw new UnitNameError(`malformed unit name ${shown}: ${JSON.stringify(model)} is not a model name (e.g. A)`);
  if (run !== "neuron" && !/^\d+$/.test(run)) {
    throw new UnitNameError(`malformed unit name ${shown}: the run must be a number (e.g. 1) or "neuron", got ${JSON.stringify(run)}`);
  }
  if (!/^\d+$/.test(index)) {
    throw new UnitNameError(`malformed unit name ${shown}: the index must be a non-negative integer, got ${JSON.stringify(index)}`);
  }
  const runName = `${model}/${run === "neuron" ? "neuron" : String(Number(run))}`;
  return { model, run, index: Number(index), runName };
}

/** Pearson correlation in float64; 0 when either side is constant (the correlation is undefined there). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: ${n} x values but ${y.length} y values`);
  if (n === 0) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return 0;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

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

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const byRunOrder = (a: RunEntry, b: RunEntry): number => {
  if (a.model.name !== b.model.name) return a.model.name < b.model.name ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === "feature" ? -1 : 1;
  const ra = Number(a.name.split("/")[1]);
  const rb = Number(b.name.split("/")[1]);
  return ra - rb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
};

export class Workspace {
  readonly root: string;
  /** Investigations that could not be opened (incomplete, another format version, a duplicate name), one line each. */
  readonly problems: string[] = [];
  private readonly models = new Map<string, ModelEntry>();
  private readonly runMap = new Map<string, RunEntry>();
  private readonly ordered: RunEntry[];
  private readonly activationCache = new Map<string, Float32Array>();

  constructor(root: string) {
    this.root = path.resolve(root);
    if (!isDir(this.root)) throw new NotFoundError(`models folder ${this.root} does not exist`);
    const modelDirs = fs.existsSync(path.join(this.root, "config.json"))
      ? [this.root]
      : fs.readdirSync(this.root).sort().map((d) => path.join(this.root, d)).filter((d) => isDir(d) && !path.basename(d).startsWith("."));
    for (const dir of modelDirs) this.scanModel(dir);
    this.ordered = [...this.runMap.values()].sort(byRunOrder);
  }

  private scanModel(dir: string): void {
    const folders: { inv: string; saeDir: string | null }[] = [];
    const own = path.join(dir, INVESTIGATION_DIR);
    if (isDir(own)) folders.push({ inv: own, saeDir: null });
    for (const sub of fs.readdirSync(dir).sort()) {
      const subDir = path.join(dir, sub);
      if (sub === INVESTIGATION_DIR || sub.startsWith(".") || !isDir(subDir)) continue;
      const inv = path.join(subDir, INVESTIGATION_DIR);
      if (isDir(inv)) folders.push({ inv, saeDir: subDir });
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
    for (const { inv, saeDir } of folders) {
      let investigation: Investigation;
      let model: ModelEntry | undefined;
      try {
        const modelName = (JSON.parse(fs.readFileSync(path.join(inv, "manifest.json"), "utf8")) as { model?: unknown }).model;
        const name = typeof modelName === "string" && modelName !== "" ? modelName : path.basename(dir);
        model = this.models.get(name);
        if (model && model.dir !== dir) {
          this.problems.push(`${inv}: model ${name} is already the folder ${model.dir}; skipped`);
          continue;
        }
        if (!model) {
          model = { name, dir, cfg, hasWeights };
          this.models.set(name, model);
        }
        const m = model;
        investigation = openInvestigation(inv, new LazyTexts(() => this.tokenizerOf(m, inv)));
      } catch (e) {
        this.problems.push(`${inv}: ${(e as Error).message}`);
        continue;
      }
      const manifest = investigation.manifest;
      if (this.runMap.has(manifest.name)) {
        this.problems.push(`${inv}: run ${manifest.name} is already ${this.runMap.get(manifest.name)!.investigation.dir}; skipped`);
        investigation.close();
        continue;
      }
      const expectedKind: UnitKind = saeDir === null ? "neuron" : "feature";
      if (manifest.kind !== expectedKind) {
        this.problems.push(`${inv}: a ${manifest.kind} investigation in a ${expectedKind === "neuron" ? "model" : "SAE"} folder; skipped`);
        investigation.close();
        continue;
      }
      const entry: RunEntry = { name: manifest.name, kind: manifest.kind, model, saeDir, investigation, info: undefined as unknown as RunInfo };
      entry.info = this.runInfo(entry);
      this.runMap.set(manifest.name, entry);
    }
  }

  private runInfo(entry: RunEntry): RunInfo {
    const inv = entry.investigation;
    const m = inv.manifest;
    let dead = 0;
    let dense = 0;
    for (const d of inv.columns.density) {
      if (d === 0) dead++;
      else if (d > DENSE_FEATURE_THRESHOLD) dense++;
    }
    const saeWeights =
      entry.saeDir !== null &&
      (fs.existsSync(path.join(entry.saeDir, SAE_WEIGHTS_FILE)) || fs.existsSync(path.join(entry.saeDir, SPARSIFY_WEIGHTS_FILE)));
    return {
      name: m.name,
      model: entry.model.name,
      kind: m.kind,
      units: m.units,
      tokens: m.tokens,
      hook: m.hook,
      sae: m.sae,
      compare: m.compare,
      densityHistogram: m.densityHistogram,
      dead,
      dense,
      promptable: entry.kind === "feature" && entry.model.hasWeights && saeWeights,
    };
  }

  private tokenizerOf(model: ModelEntry, where: string): Tokenizer {
    if (model.tokenizer) return model.tokenizer;
    if (model.cfg) model.tokenizer = loadModelTokenizer(model.dir, model.cfg);
    else {
      const manifest = JSON.parse(fs.readFileSync(path.join(where, "manifest.json"), "utf8")) as { tokenizer?: string };
      if (manifest.tokenizer !== "gpt2") {
        throw new UnavailableError(`${where}: tokenizer ${JSON.stringify(manifest.tokenizer)} needs the model folder's config.json (${model.dir})`);
      }
      model.tokenizer = loadGpt2Tokenizer();
    }
    return model.tokenizer;
  }

  /** Loads what the first page view would otherwise wait for (each model's tokenizer). Errors are left for later. */
  warm(): void {
    for (const r of this.ordered) {
      try {
        this.tokenizerOf(r.model, r.investigation.dir);
      } catch {
        // reported when a unit of this run is read
      }
    }
  }

  /** Every run, models in name order, SAE runs by number, then the model's neurons. */
  runs(): RunInfo[] {
    return this.ordered.map((r) => r.info);
  }

  runInfoOf(run: string): RunInfo {
    return this.run(run).info;
  }

  /** Per-unit scalars of a run (density, max activation, loss effect, …) for tables and picking examples. */
  columnsOf(run: string): UnitColumns {
    return this.run(run).investigation.columns;
  }

  private run(name: string): RunEntry {
    const r = this.runMap.get(name);
    if (r) return r;
    const known = this.ordered.map((e) => e.name);
    const unreadable =
      this.problems.length === 0 ? "" : `; ${this.problems.length} investigation folder${this.problems.length === 1 ? "" : "s"} could not be read: ${this.problems[0]}`;
    throw new NotFoundError(
      `no run ${JSON.stringify(name)} in ${this.root} (${known.length > 0 ? `runs: ${known.join(", ")}` : "no investigations: run saekit analyze"}${unreadable})`,
    );
  }

  /** The run and index a unit name points at (UnitNameError / NotFoundError otherwise). */
  resolve(name: string): { run: RunEntry; index: number } {
    const parsed = parseUnitName(name);
    const run = this.run(parsed.runName);
    const n = run.investigation.units;
    if (parsed.index >= n) {
      const what = run.kind === "feature" ? "features" : "neurons";
      throw new NotFoundError(`${parsed.runName} has ${n} ${what} (0–${n - 1}); ${parsed.index} is out of range`);
    }
    return { run, index: parsed.index };
  }

  /** The full record of `A/1/3450` or `A/neuron/489`. */
  unit(name: string): UnitRecord {
    const { run, index } = this.resolve(name);
    return run.investigation.unit(index);
  }

  /**
   * What re-scoring a unit against a new proxy needs (investigate.ts): its model, SAE (null for a neuron), hook and
   * index, the investigation it belongs to (whose tokens are re-streamed) and the model's tokenizer.
   */
  liveUnit(name: string): { unit: LiveUnit; store: Investigation; tokenizer: Tokenizer } {
    const { run, index } = this.resolve(name);
    const hook = run.investigation.manifest.hook;
    const sae = run.kind === "feature" ? this.saeOf(run).sae : null;
    const model = this.modelOf(run.model, hook);
    return { unit: { model, sae, hook, index }, store: run.investigation, tokenizer: this.tokenizerOf(run.model, run.investigation.dir) };
  }

  /** Units matching `q` (name, label, top tokens, logit tokens) in one run or in all of them. */
  search(q: string, run?: string, limit = 50): SearchResponse {
    const runs = run === undefined || run === "" ? this.ordered : [this.run(run)];
    const perRun = runs.map((r) => r.investigation.search(q, { limit }).map((h) => ({ run: r.name, ...h })));
    // Exact name hits first, then the runs' own rankings interleaved (each run ranks its hits; ranks do not compare).
    const hits: SearchResponse["hits"] = [];
    for (const list of perRun) for (const h of list) if (h.field === "name") hits.push(h);
    const rest = perRun.map((list) => list.filter((h) => h.field !== "name"));
    for (let i = 0; hits.length < limit && rest.some((l) => i < l.length); i++) {
      for (const list of rest) if (i < list.length && hits.length < limit) hits.push(list[i]!);
    }
    return { query: q, hits: hits.slice(0, limit) };
  }

  private modelOf(entry: ModelEntry, hook: string): HookedTransformer {
    if (entry.loaded) return entry.loaded;
    if (!entry.hasWeights) throw new UnavailableError(`model ${entry.name}: no weights in ${entry.dir} (config.json and model.safetensors are needed)`);
    const { cfg, weights } = loadModelFolder(entry.dir);
    const model = new HookedTransformer(cfg, weights);
    if (!model.hookNames().includes(hook)) throw new UnavailableError(`model ${entry.name} has no hook point ${hook}`);
    entry.loaded = model;
    return model;
  }

  private saeOf(run: RunEntry): LoadedSae {
    if (run.sae) return run.sae;
    if (run.saeDir === null) throw new UnavailableError(`${run.name} is not an SAE run`);
    if (!run.info.promptable) {
      throw new UnavailableError(`${run.name}: the SAE weights (${path.join(run.saeDir, SAE_WEIGHTS_FILE)}) or the model weights (${run.model.dir}) are not there`);
    }
    run.sae = loadSaeFolder(run.saeDir);
    if (run.sae.sae.dSae !== run.investigation.units) {
      throw new UnavailableError(`${run.name}: the SAE in ${run.saeDir} has ${run.sae.sae.dSae} features but its investigation has ${run.investigation.units}; rerun saekit analyze`);
    }
    return run.sae;
  }

  /** Analyses a prompt live on an SAE run (model, SAE and tokenizer loaded on first use). */
  prompt(run: string, text: string, options: PromptOptions = {}): PromptAnalysis {
    const entry = this.run(run);
    if (entry.kind !== "feature") throw new UnitNameError(`${run} is a model's neurons; prompts are analysed on an SAE run (e.g. ${entry.model.name}/1)`);
    const { sae } = this.saeOf(entry);
    const hook = entry.investigation.manifest.hook;
    const model = this.modelOf(entry.model, hook);
    const search = entry.investigation.searchTable;
    const tokenizer = this.tokenizerOf(entry.model, entry.investigation.dir);
    const maxTokens = Math.min(options.maxTokens ?? model.cfg.n_ctx, model.cfg.n_ctx);
    const n = typeof text === "string" ? tokenizer.encode(text).length : 0;
    if (n > maxTokens) {
      throw new TooLargeError(`the prompt has ${n} tokens; at most ${maxTokens} fit (model ${entry.model.name}'s context is ${model.cfg.n_ctx} tokens)`);
    }
    return analyzePrompt(
      {
        run: entry.name,
        model,
        sae,
        tokenizer,
        hook,
        labels: (i) => search[i]?.label ?? null,
      },
      text,
      options,
    );
  }

  /** Sequences of `inv` used for comparisons: evenly spread within each domain, about COMPARE_TOKENS tokens. */
  private sampleSequences(inv: Investigation): number[] {
    const m = inv.manifest;
    const want = Math.max(1, Math.min(COMPARE_MAX_SEQUENCES, Math.ceil(COMPARE_TOKENS / m.seqLen), m.sequences));
    const domains = m.domains.length > 0 ? m.domains : [{ domain: "all", firstSequence: 0, sequences: m.sequences }];
    const out: number[] = [];
    domains.forEach((d, i) => {
      const share = Math.floor(want / domains.length) + (i < want % domains.length ? 1 : 0);
      const k = Math.min(share, d.sequences);
      for (let j = 0; j < k; j++) out.push(d.firstSequence + Math.floor((j * d.sequences) / k));
    });
    return out;
  }

  /** Hook activations [rows, width] of `model` on the sample sequences of `source` (cached). */
  private hookActivations(model: ModelEntry, hook: string, source: RunEntry): { data: Float32Array; rows: number; width: number } {
    const inv = source.investigation;
    const seqs = this.sampleSequences(inv);
    const net = this.modelOf(model, hook);
    const seqLen = Math.min(inv.manifest.seqLen, net.cfg.n_ctx);
    const key = `${model.name}\u0000${hook}\u0000${inv.dir}`;
    let data = this.activationCache.get(key);
    if (!data) {
      const tokens = new Int32Array(seqs.length * seqLen);
      seqs.forEach((s, i) => tokens.set(inv.sequence(s).subarray(0, seqLen), i * seqLen));
      for (const t of tokens) {
        if (t >= net.cfg.d_vocab) throw new UnavailableError(`model ${model.name}'s vocabulary (${net.cfg.d_vocab}) does not cover ${source.name}'s evaluation tokens`);
      }
      const { cache } = net.forward(Tape.noGrad(), tokens, seqs.length, seqLen, { cache: [hook], stopAt: hook });
      data = Float32Array.from(cache.get(hook)!.data);
      this.activationCache.set(key, data);
    }
    const rows = seqs.length * seqLen;
    return { data, rows, width: data.length / rows };
  }

  /** One unit's activations on the comparison sample of `source`'s evaluation tokens. */
  private unitActivations(run: RunEntry, index: number, source: RunEntry): Float32Array {
    const hook = run.investigation.manifest.hook;
    const { data, rows, width } = this.hookActivations(run.model, hook, source);
    const out = new Float32Array(rows);
    if (run.kind === "neuron") {
      for (let r = 0; r < rows; r++) out[r] = data[r * width + index]!;
      return out;
    }
    const { sae } = this.saeOf(run);
    if (sae.dIn !== width) throw new UnavailableError(`${run.name}: the SAE reads ${sae.dIn} values per token but ${hook} has ${width}`);
    if (sae.spec.architecture === "topk") {
      // Whether a feature survives TopK depends on every other feature: encode the whole dictionary.
      const codes = sae.encode(data, rows);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < codes.k; j++) if (codes.indices[r * codes.k + j] === index) out[r] = codes.values[r * codes.k + j]!;
      }
      return out;
    }
    // Standard SAE: only this feature's encoder row, f = ReLU((x − b_dec) · W_enc[:, i] + b_enc[i]).
    const enc = sae.encT.subarray(index * width, (index + 1) * width);
    const bDec = sae.spec.applyBDecToInput ? sae.bDec : null;
    let shift = 0;
    if (bDec) for (let c = 0; c < width; c++) shift += bDec[c]! * enc[c]!;
    const b = sae.bEnc[index]! - shift;
    for (let r = 0; r < rows; r++) {
      let s = b;
      const off = r * width;
      for (let c = 0; c < width; c++) s += data[off + c]! * enc[c]!;
      out[r] = s > 0 ? s : 0;
    }
    return out;
  }

  /** The unit's logit weights over the whole vocabulary (its output direction through ln_final and W_U). */
  private unitLogitWeights(run: RunEntry, index: number): Float32Array {
    const hook = run.investigation.manifest.hook;
    const net = this.modelOf(run.model, hook);
    const cfg = net.cfg;
    const layer = layerFromHookName(hook);
    if (!/\.mlp\.hook_post$/.test(hook)) {
      throw new UnavailableError(`${run.name}: logit weights need units on an MLP's activations (blocks.L.mlp.hook_post), not ${hook}`);
    }
    const p = net.params;
    const wOut = p[`blocks.${layer}.mlp.W_out`]!.data as Float32Array;
    let directions: Float32Array;
    if (run.kind === "neuron") {
      directions = run.model.neuronDirections ??= neuronOutputDirections(wOut, cfg.d_mlp, cfg.d_model);
    } else {
      directions = run.featureDirections ??= featureOutputDirections(this.saeOf(run).sae, wOut, cfg.d_mlp, cfg.d_model);
    }
    const wU = p["unembed.W_U"]!.data as Float32Array;
    const dVocab = wU.length / cfg.d_model;
    const lnW = cfg.normalization_type === "LN" ? (p["ln_final.w"]!.data as Float32Array) : null;
    const dir = directions.subarray(index * cfg.d_model, (index + 1) * cfg.d_model);
    return logitWeights(dir, 1, cfg.d_model, wU, dVocab, lnW, LOGIT_WEIGHT_OPTIONS);
  }

  /**
   * Side-by-side data of two units (same model or two models with the same tokenizer): activations on a sample of
   * `a`'s evaluation tokens with Pearson r, and logit weights over the vocabulary (a sample of ≤ 2000 points that
   * keeps both units' extremes; r over the whole vocabulary).
   */
  compare(a: string, b: string): CompareResponse {
    const ua = this.resolve(a);
    const ub = this.resolve(b);
    const [ma, mb] = [ua.run.model, ub.run.model];
    if (ma !== mb && ma.cfg && mb.cfg && (ma.cfg.tokenizer_name !== mb.cfg.tokenizer_name || ma.cfg.d_vocab !== mb.cfg.d_vocab)) {
      throw new UnitNameError(
        `${a} and ${b} belong to models with different vocabularies (${ma.cfg.tokenizer_name}/${ma.cfg.d_vocab} vs ${mb.cfg.tokenizer_name}/${mb.cfg.d_vocab}); they cannot be compared token by token`,
      );
    }
    const xa = this.unitActivations(ua.run, ua.index, ua.run);
    const xb = this.unitActivations(ub.run, ub.index, ua.run);
    const la = this.unitLogitWeights(ua.run, ua.index);
    const lb = this.unitLogitWeights(ub.run, ub.index);
    if (la.length !== lb.length) throw new UnitNameError(`${a} has ${la.length} logit weights but ${b} has ${lb.length}: different vocabularies`);
    const vocab = vocabSample(la, lb, COMPARE_VOCAB_POINTS);
    return {
      a: this.canonical(ua),
      b: this.canonical(ub),
      activations: { x: Array.from(xa, round4), y: Array.from(xb, round4), r: pearson(xa, xb), tokens: xa.length },
      logits: { x: vocab.map((t) => round4(la[t]!)), y: vocab.map((t) => round4(lb[t]!)), r: pearson(la, lb) },
    };
  }

  private canonical(u: { run: RunEntry; index: number }): string {
    return u.run.investigation.unitName(u.index);
  }

  close(): void {
    for (const r of this.ordered) r.investigation.close();
  }
}

/** Token ids for a scatter: the `COMPARE_VOCAB_EXTREMES` highest and lowest of each side, then evenly spaced ids. */
export function vocabSample(x: Float32Array, y: Float32Array, points: number): number[] {
  const n = x.length;
  if (n <= points) return Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  const k = Math.min(COMPARE_VOCAB_EXTREMES, Math.floor(points / 8));
  for (const v of [x, y]) {
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => v[j]! - v[i]!);
    for (let i = 0; i < k; i++) {
      chosen.add(order[i]!);
      chosen.add(order[n - 1 - i]!);
    }
  }
  const rest = points - chosen.size;
  for (let i = 0; i < rest * 2 && chosen.size < points; i++) chosen.add(Math.floor((i * n) / (rest * 2)));
  return [...chosen].sort((i, j) => i - j);
}

/** Opens every investigation under `root` (default: the package's shipped models/). */
export function openWorkspace(root: string = shippedModelsRoot()): Workspace {
  return new Workspace(root);
}
