/**
 * A unit set's investigation in Neuronpedia's import layout (`saekit export --format neuronpedia`), so the run can be
 * loaded into a Neuronpedia instance. The layout and field names follow Neuronpedia's export utilities
 * (github.com/hijohnnylin/neuronpedia, read in the fork zazer0/neuronpedia; utils/neuronpedia-utils: db_models/*.py and
 * convert-saedashboard-to-neuronpedia-export.py, which turns SAEDashboard's batch-N.json into it); docs/exports.md
 * lists every field and where its value comes from. Per source:
 *
 *   OUT/<modelId>/<layer>-<sourceSet>/
 *     release.jsonl, model.jsonl, sourceset.jsonl, source.jsonl   one JSON object each
 *     features/batch-<k>.jsonl.gz      one Feature per line, `batchSize` units per batch, in index order
 *     activations/batch-<k>.jsonl.gz   one Activation per example (top examples, then each interval's samples)
 *
 * Only what the store holds is filled; what saekit does not compute (decoder-weight distribution, DFA, logit
 * contributions, top-k decoder cosines, correlated-neuron L1) is left empty, as Neuronpedia's own defaults do.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fsyncDirectorySync } from "../io/atomic.js";
import type { Example, UnitRecord } from "./unit-record.js";

export interface NeuronpediaExportOptions {
  /** Neuronpedia model id (lower case, e.g. "saekit-a"). */
  modelId: string;
  /** Source set name (without the layer, e.g. "saekit-mlp4k-1"); the source id is `<layer>-<sourceSet>`. */
  sourceSet: string;
  layer: number;
  /** The hook the SAE reads (TransformerLens name), for Feature.hookName. */
  hookName: string;
  /** Units per batch file (Neuronpedia's runner default: 128). */
  batchSize: number;
  /** ISO time written as every createdAt (one per export, so reruns on the same input differ only in it). */
  createdAt: string;
  creatorId: string | null;
  creatorName: string;
  /** What the examples come from (Source.dataset, Activation.dataSource prefix). */
  dataset: string;
  numPrompts: number;
  tokensPerPrompt: number;
  description: string;
}

/** Neuronpedia's Feature (db_models/feature.py), with saekit's values. */
export interface NeuronpediaFeature {
  modelId: string;
  layer: string;
  index: string;
  creatorId: string | null;
  createdAt: string;
  maxActApprox: number;
  hasVector: boolean;
  vector: number[];
  vectorLabel: string | null;
  vectorDefaultSteerStrength: number;
  hookName: string | null;
  topkCosSimIndices: number[];
  topkCosSimValues: number[];
  neuron_alignment_indices: number[];
  neuron_alignment_values: number[];
  neuron_alignment_l1: number[];
  correlated_neurons_indices: number[];
  correlated_neurons_pearson: number[];
  correlated_neurons_l1: number[];
  correlated_features_indices: number[];
  correlated_features_pearson: number[];
  correlated_features_l1: number[];
  neg_str: string[];
  neg_values: number[];
  pos_str: string[];
  pos_values: number[];
  frac_nonzero: number;
  freq_hist_data_bar_heights: number[];
  freq_hist_data_bar_values: number[];
  logits_hist_data_bar_heights: number[];
  logits_hist_data_bar_values: number[];
  decoder_weights_dist: number[];
}

/** Neuronpedia's Activation (db_models/activation.py): one example window. */
export interface NeuronpediaActivation {
  id: string;
  tokens: string[];
  index: string;
  layer: string;
  modelId: string;
  maxValue: number;
  maxValueTokenIndex: number;
  minValue: number;
  values: number[];
  creatorId: string | null;
  dataSource: string | null;
  dataIndex: string | null;
  dfaValues: number[];
  dfaTargetIndex: number | null;
  dfaMaxValue: number | null;
  createdAt: string;
  lossValues: number[];
  logitContributions: string | null;
  binMin: number | null;
  binMax: number | null;
  binContains: number | null;
  qualifyingTokenIndex: number | null;
}

export class NeuronpediaExportError extends Error {
  override name = "NeuronpediaExportError";
}

/** `<layer>-<sourceSet>`, Neuronpedia's source id (its "layer" field on features and activations). */
export function neuronpediaSourceId(o: Pick<NeuronpediaExportOptions, "layer" | "sourceSet">): string {
  return `${o.layer}-${o.sourceSet}`;
}

const centres = (edges: readonly number[]): number[] => edges.slice(0, -1).map((e, i) => (e + edges[i + 1]!) / 2);

export function neuronpediaFeature(rec: UnitRecord, o: NeuronpediaExportOptions): NeuronpediaFeature {
  const align = rec.neurons?.alignment ?? [];
  const corr = rec.neurons?.correlated ?? [];
  const co = rec.related?.coactivation ?? [];
  return {
    modelId: o.modelId,
    layer: neuronpediaSourceId(o),
    index: String(rec.index),
    creatorId: o.creatorId,
    createdAt: o.createdAt,
    maxActApprox: rec.maxActivation,
    hasVector: false,
    vector: [],
    vectorLabel: null,
    vectorDefaultSteerStrength: 10,
    hookName: o.hookName,
    topkCosSimIndices: [],
    topkCosSimValues: [],
    neuron_alignment_indices: align.map((a) => a.neuron),
    neuron_alignment_values: align.map((a) => a.value),
    neuron_alignment_l1: align.map((a) => a.fractionOfL1),
    correlated_neurons_indices: corr.map((c) => c.index),
    correlated_neurons_pearson: corr.map((c) => c.r),
    correlated_neurons_l1: [],
    correlated_features_indices: co.map((c) => c.index),
    correlated_features_pearson: co.map((c) => c.r),
    correlated_features_l1: [],
    neg_str: rec.logits.bottom.map((w) => w.text),
    neg_values: rec.logits.bottom.map((w) => w.weight),
    pos_str: rec.logits.top.map((w) => w.text),
    pos_values: rec.logits.top.map((w) => w.weight),
    frac_nonzero: rec.density,
    freq_hist_data_bar_heights: rec.histogram.counts,
    freq_hist_data_bar_values: centres(rec.histogram.edges),
    logits_hist_data_bar_heights: rec.logits.histogram.counts,
    logits_hist_data_bar_values: centres(rec.logits.histogram.edges),
    decoder_weights_dist: [],
  };
}

/** A stable id per (source, unit, example), shaped like Neuronpedia's 25-character cuids. */
function activationId(sourceId: string, index: number, k: number): string {
  return `s${crypto.createHash("sha256").update(`${sourceId}:${index}:${k}`).digest("hex").slice(0, 24)}`;
}

/**
 * The unit's examples as Activations: top examples first (binMin −1, binMax the unit's max, binContains −1, as
 * SAEDashboard marks its top group), then each interval's samples (binMin/binMax the interval, binContains its share
 * of firing tokens). lossValues: the change of the next-token loss when the unit is zeroed at that token
 * (−Δlog-prob; 0 where it was not computed).
 */
export function neuronpediaActivations(rec: UnitRecord, o: NeuronpediaExportOptions): NeuronpediaActivation[] {
  const sourceId = neuronpediaSourceId(o);
  const groups: { examples: Example[]; binMin: number; binMax: number; binContains: number }[] = [
    { examples: rec.top, binMin: -1, binMax: rec.maxActivation, binContains: -1 },
    ...rec.intervals.map((iv) => ({ examples: iv.examples, binMin: iv.lo, binMax: iv.hi, binContains: iv.fraction })),
  ];
  const out: NeuronpediaActivation[] = [];
  for (const g of groups) {
    for (const e of g.examples) {
      const values = e.tokens.map((t) => t.activation);
      let arg = 0;
      for (let i = 1; i < values.length; i++) if (values[i]! > values[arg]!) arg = i;
      out.push({
        id: activationId(sourceId, rec.index, out.length),
        tokens: e.tokens.map((t) => t.text),
        index: String(rec.index),
        layer: sourceId,
        modelId: o.modelId,
        maxValue: values[arg] ?? 0,
        maxValueTokenIndex: arg,
        minValue: values.length ? Math.min(...values) : 0,
        values,
        creatorId: o.creatorId,
        dataSource: `${o.dataset} (${e.domain})`,
        dataIndex: String(e.sequence),
        dfaValues: [],
        dfaTargetIndex: null,
        dfaMaxValue: null,
        createdAt: o.createdAt,
        lossValues: e.tokens.map((t) => (t.logprobDelta === null || t.logprobDelta === 0 ? 0 : -t.logprobDelta)),
        logitContributions: null,
        binMin: g.binMin,
        binMax: g.binMax,
        binContains: g.binContains,
        qualifyingTokenIndex: e.position - e.start,
      });
    }
  }
  return out;
}

/** What the export wrote (the CLI's --json summary). */
export interface NeuronpediaExportSummary {
  format: "neuronpedia";
  /** The source's folder (OUT/<modelId>/<sourceId>). */
  dir: string;
  modelId: string;
  sourceId: string;
  features: number;
  activations: number;
  batches: number;
  files: { path: string; bytes: number; rows: number }[];
}

/** What the export reads of an investigation store. */
export interface NeuronpediaExportSource {
  units: number;
  unit(index: number): UnitRecord;
}

function jsonl(rows: readonly object[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
}

/**
 * Writes the source's folder under `out`: built in a temporary folder beside it and renamed into place (replacing an
 * earlier export of the same source), so a reader never sees half an export.
 */
export function writeNeuronpediaExport(src: NeuronpediaExportSource, out: string, o: NeuronpediaExportOptions): NeuronpediaExportSummary {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new NeuronpediaExportError(`neuronpedia export: batchSize must be a positive integer, got ${o.batchSize}`);
  for (const [k, v] of [["modelId", o.modelId], ["sourceSet", o.sourceSet]] as const) {
    // Both become folder names and URL segments on Neuronpedia.
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(v)) throw new NeuronpediaExportError(`neuronpedia export: ${k} must be lower-case letters, digits, '.', '_' or '-', got ${JSON.stringify(v)}`);
  }
  const sourceId = neuronpediaSourceId(o);
  const dir = path.resolve(out, o.modelId, sourceId);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const files: NeuronpediaExportSummary["files"] = [];
  let activations = 0;
  let batches = 0;
  try {
    fs.mkdirSync(path.join(tmp, "features"), { recursive: true });
    fs.mkdirSync(path.join(tmp, "activations"));
    const write = (rel: string, data: Buffer | string, rows: number) => {
      fs.writeFileSync(path.join(tmp, rel), data);
      files.push({ path: rel, bytes: Buffer.byteLength(data), rows });
    };
    const meta = metadataRows(o, sourceId, src.units);
    for (const [name, row] of Object.entries(meta)) write(`${name}.jsonl`, jsonl([row]), 1);
    for (let first = 0; first < src.units; first += o.batchSize) {
      const feats: NeuronpediaFeature[] = [];
      const acts: NeuronpediaActivation[] = [];
      for (let i = first; i < Math.min(src.units, first + o.batchSize); i++) {
        const rec = src.unit(i);
        feats.push(neuronpediaFeature(rec, o));
        acts.push(...neuronpediaActivations(rec, o));
      }
      write(`features/batch-${batches}.jsonl.gz`, zlib.gzipSync(jsonl(feats), { level: 6 }), feats.length);
      write(`activations/batch-${batches}.jsonl.gz`, zlib.gzipSync(jsonl(acts), { level: 6 }), acts.length);
      activations += acts.length;
      batches++;
    }
    fsyncDirectorySync(tmp);
    const old = `${dir}.old-${process.pid}-${Date.now().toString(36)}`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fsyncDirectorySync(path.dirname(dir));
    fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { format: "neuronpedia", dir, modelId: o.modelId, sourceId, features: src.units, activations, batches, files };
}

/** release / model / sourceset / source: one object each (db_models' SourceRelease, Model, SourceSet, Source). */
function metadataRows(o: NeuronpediaExportOptions, sourceId: string, units: number): Record<string, object> {
  return {
    release: {
      name: o.sourceSet, description: o.description, descriptionShort: o.description, urls: [], creatorName: o.creatorName,
      creatorNameShort: o.creatorName, creatorId: o.creatorId, visibility: "PUBLIC", createdAt: o.createdAt,
    },
    model: {
      id: o.modelId, instruct: false, displayNameShort: o.modelId, displayName: o.modelId, creatorId: o.creatorId,
      visibility: "PUBLIC", createdAt: o.createdAt, updatedAt: o.createdAt,
    },
    sourceset: {
      modelId: o.modelId, name: o.sourceSet, creatorId: o.creatorId, creatorName: o.creatorName, releaseName: o.sourceSet,
      description: `${o.description} (${units} features)`, visibility: "PUBLIC", hasDashboards: true, createdAt: o.createdAt,
    },
    source: {
      id: sourceId, modelId: o.modelId, setName: o.sourceSet, creatorId: o.creatorId, hasDashboards: true, visibility: "PUBLIC",
      dataset: o.dataset, num_prompts: o.numPrompts, num_tokens_in_prompt: o.tokensPerPrompt, createdAt: o.createdAt,
    },
  };
}
