/**
 * `saekit export --run A/1 --format neuronpedia|csv --out DIR [--json]`: an analysed run in the ecosystem's formats —
 * Neuronpedia's import layout (gzipped JSONL batches of features and activations; analysis/export-neuronpedia.ts) or
 * the feature table as CSV (analysis/export-csv.ts). docs/exports.md describes both.
 */
import fs from "node:fs";
import path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { allFeatureRows, featureCsvColumns, featureTableCsv } from "../analysis/export-csv.js";
import { writeNeuronpediaExport, type NeuronpediaExportSummary } from "../analysis/export-neuronpedia.js";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { layerFromHookName } from "../sae/format.js";
import { dashboardService } from "../vis/service.js";
import { integerFlag } from "./flags.js";

const FORMATS = ["neuronpedia", "csv"] as const;
type ExportFormat = (typeof FORMATS)[number];

interface ExportFlags {
  run: string;
  format: ExportFormat;
  out: string;
  models?: string;
  modelId?: string;
  sourceSet?: string;
  batchSize: number;
  creatorId?: string;
  creatorName: string;
  createdAt?: string;
  json?: boolean;
}

export interface CsvExportSummary {
  format: "csv";
  file: string;
  rows: number;
  columns: string[];
  bytes: number;
}

/** "4096" → "4k" (Neuronpedia's source-set names carry the width that way: gemmascope-res-16k). */
function width(units: number): string {
  return units >= 1024 && units % 1024 === 0 ? `${units / 1024}k` : String(units);
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write an analysed run in Neuronpedia's import layout (gzipped JSONL batches of features and activations) or its feature table as CSV (docs/exports.md)")
    .requiredOption("--run <set>", "the unit set (A/1; A/neuron for a model's neurons)")
    .requiredOption("--format <format>", `one of ${FORMATS.join(", ")}`, (v: string) => {
      if (!(FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--format must be one of ${FORMATS.join(", ")}, got "${v}".`);
      return v as ExportFormat;
    })
    .requiredOption("--out <dir>", "output folder (created if missing); neuronpedia: DIR/<model id>/<layer>-<source set>/, csv: DIR/<run>-features.csv")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option("--model-id <id>", "neuronpedia: the model id (default saekit-<model>, lower case)")
    .option("--source-set <name>", "neuronpedia: the source set name without the layer (default saekit-mlp<width>-<run>, e.g. saekit-mlp4k-1)")
    .option("--batch-size <n>", "neuronpedia: units per batch file", integerFlag("--batch-size", 1), 128)
    .option("--creator-id <id>", "neuronpedia: creatorId written on every row (default null)")
    .option("--creator-name <name>", "neuronpedia: creatorName of the release and source set", "saekit")
    .option("--created-at <iso>", "neuronpedia: the createdAt written on every row (default now), e.g. for reproducible exports")
    .option("--json", "print a machine-readable summary of what was written")
    .action((f: ExportFlags) => {
      if (f.createdAt !== undefined && Number.isNaN(Date.parse(f.createdAt))) throw new Error(`--created-at must be an ISO date/time, got "${f.createdAt}"`);
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const service = dashboardService(workspace);
        const info = workspace.runInfoOf(f.run);
        let summary: NeuronpediaExportSummary | CsvExportSummary;
        if (f.format === "csv") {
          const rows = allFeatureRows((q) => service.featureTable(info.name, q));
          const text = featureTableCsv(rows);
          fs.mkdirSync(f.out, { recursive: true });
          const file = path.resolve(f.out, `${info.name.replace(/\//g, "-")}-features.csv`);
          writeFileAtomicSync(file, text);
          summary = { format: "csv", file, rows: rows.length, columns: featureCsvColumns(rows), bytes: Buffer.byteLength(text) };
        } else {
          const store = workspace.store(info.name);
          const m = store.manifest;
          const runPart = m.run ?? "neurons";
          summary = writeNeuronpediaExport(store, f.out, {
            modelId: f.modelId ?? `saekit-${m.model.toLowerCase()}`,
            sourceSet: f.sourceSet ?? `saekit-mlp${width(m.units)}-${runPart}`.toLowerCase(),
            layer: layerFromHookName(m.hook),
            hookName: m.hook,
            batchSize: f.batchSize,
            createdAt: f.createdAt ? new Date(f.createdAt).toISOString() : new Date().toISOString(),
            creatorId: f.creatorId ?? null,
            creatorName: f.creatorName,
            dataset: `saekit evaluation tokens of ${m.name}`,
            numPrompts: m.sequences,
            tokensPerPrompt: m.seqLen,
            description: `saekit ${m.name}: ${m.units} ${m.kind === "feature" ? "SAE features" : "MLP neurons"} at ${m.hook} of model ${m.model}`,
          });
        }
        if (f.json) console.log(JSON.stringify(summary, null, 1));
        else if (summary.format === "csv") console.log(`wrote ${summary.rows} rows × ${summary.columns.length} columns to ${summary.file} (${summary.bytes} bytes)`);
        else console.log(`wrote ${summary.features} features and ${summary.activations} activations in ${summary.batches} batches to ${summary.dir} (${summary.files.reduce((a, b) => a + b.bytes, 0)} bytes)`);
      } finally {
        workspace.close();
      }
    });
}
