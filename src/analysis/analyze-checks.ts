/** Checks of analyze's input before any work (errors name the option), and the atlas' and family's runs. */
import { parseUnitSetName } from "../names.js";
import { checkAblationHook } from "./ablation.js";
import type { AtlasRunInput } from "./atlas.js";
import type { AnalyzeInput, AnalyzeOptions, FamilyRun } from "./analyze-types.js";
import { familyNeighbours } from "./family.js";

/** The atlas' runs: the analysed one and the others given, checked (one model, one d_in), sorted by name. */
export function atlasRuns(input: AnalyzeInput): AtlasRunInput[] {
  const model = parseUnitSetName(input.run).model;
  const others = input.atlas?.runs ?? [];
  for (const r of others) {
    if (parseUnitSetName(r.name).model !== model) throw new Error(`analyze --atlas ${r.name}: not a run of model ${model}; an atlas maps the runs of one model`);
    if (r.dIn !== input.sae.dIn) throw new Error(`analyze --atlas ${r.name}: its d_in ${r.dIn} differs from ${input.run}'s ${input.sae.dIn}`);
  }
  const own: AtlasRunInput = { name: input.run, decoder: input.sae.dec, units: input.sae.dSae, dIn: input.sae.dIn };
  const runs = [own, ...others.filter((r) => r.name !== input.run)];
  return runs.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
}

/** The family runs to link (the next smaller and larger), checked: same hook and d_in as the analysed SAE. */
export function familyRuns(input: AnalyzeInput): FamilyRun[] {
  const runs = input.family ?? [];
  for (const f of runs) {
    if (f.hook !== input.hook) throw new Error(`analyze --family ${f.name}: it reads ${f.hook} but ${input.run} reads ${input.hook}; families link runs on the same hook of the same model`);
    if (f.sae.dIn !== input.sae.dIn) throw new Error(`analyze --family ${f.name}: its d_in ${f.sae.dIn} differs from ${input.run}'s ${input.sae.dIn}`);
    if (parseUnitSetName(f.name).model !== parseUnitSetName(input.run).model) throw new Error(`analyze --family ${f.name}: not a run of model ${parseUnitSetName(input.run).model}; families link runs of one model (use --compare across models)`);
  }
  const n = familyNeighbours({ run: input.run, units: input.sae.dSae }, runs.map((f) => ({ run: f.name, units: f.sae.dSae, f })));
  return [n.smaller?.f, n.larger?.f].filter((f): f is FamilyRun => f !== undefined);
}

/** The evaluation and options checked before any work (errors name the option). */
export function checkInput(input: AnalyzeInput, o: Required<AnalyzeOptions>): void {
  const { model, sae, hook, evaluation: ev } = input;
  checkAblationHook(model, hook);
  parseUnitSetName(input.run);
  if (sae.dIn !== model.cfg.d_mlp) throw new Error(`analyze: the SAE has d_in ${sae.dIn} but ${hook} has ${model.cfg.d_mlp} values per token`);
  for (const c of input.compare ?? []) {
    checkAblationHook(c.model, c.hook);
    if (c.model.cfg.d_vocab !== model.cfg.d_vocab) throw new Error(`analyze --compare ${c.name}: its model's vocabulary (${c.model.cfg.d_vocab}) differs from ${input.modelName}'s (${model.cfg.d_vocab}); SAE runs are matched on shared tokens`);
    if (c.model.cfg.n_ctx < ev.seqLen) throw new Error(`analyze --compare ${c.name}: its model's context ${c.model.cfg.n_ctx} is shorter than the evaluation sequences (${ev.seqLen})`);
  }
  // The store keeps window offsets in an i8, positions in a u16 (store/format.ts encodeRecord).
  if (!(o.windowBefore >= 0 && o.windowBefore <= 127 && o.windowAfter >= 0 && o.windowAfter <= 127)) {
    throw new RangeError(`analyze: windowBefore/windowAfter must lie in [0, 127], got ${o.windowBefore}/${o.windowAfter}`);
  }
  if (ev.seqLen > 65535) throw new RangeError(`analyze: sequences of ${ev.seqLen} tokens exceed the store's 65,535-position limit`);
}
