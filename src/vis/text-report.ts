/**
 * Plain-text renderings for the terminal: the whole investigation of one unit (`saekit investigate`) and the
 * prompt-centric view (`saekit prompt`). Bars and shading are Unicode blocks so a report reads without a browser.
 */
import type { Example, PromptAnalysis, ProxyReport, UnitRecord } from "../analysis/unit-record.js";

const BLOCKS = " ▁▂▃▄▅▆▇█";

/** A token's text with whitespace made visible (· for a space, ↵ for a newline, → for a tab). */
export function visibleToken(text: string): string {
  return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "→");
}

function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(digits);
}

function pct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : `${(100 * v).toFixed(1)}%`;
}

/** One line of vertical bars for a histogram, scaled to its largest count (log1p, so small bins show). */
export function sparkline(counts: number[]): string {
  const top = Math.max(...counts.map((c) => Math.log1p(c)), 0);
  return counts.map((c) => (top > 0 ? BLOCKS[Math.round((Math.log1p(c) / top) * 8)] : " ")).join("");
}

/** An example as text: the example token in [brackets], other firing tokens with their activation. */
function exampleLine(e: Example): string {
  const parts = e.tokens.map((t, i) => {
    const text = visibleToken(t.text);
    if (e.start + i === e.position) return `[${text}]`;
    return t.activation > 0 ? `${text}⁽${num(t.activation, 2)}⁾` : text;
  });
  const centre = e.tokens[e.position - e.start];
  const delta = centre?.logprobDelta;
  return `${num(e.activation, 2).padStart(7)}  ${e.domain.padEnd(5)} ${parts.join("")}${delta === null || delta === undefined ? "" : `   Δlogp(next) ${num(delta, 3)}`}`;
}

export function formatProxy(p: ProxyReport): string[] {
  const lines = [
    `proxy ${p.spec.length > 100 ? `${p.spec.slice(0, 97)}...` : p.spec}`,
    `  ${p.description}`,
    `  specificity ${pct(p.specificity)} of activation mass, ${pct(p.specificityFiring)} of firing tokens; sensitivity ${pct(p.sensitivity)} of ${Math.round(p.proxyTokens)} proxy tokens`,
    "  activation bin        tokens   proxy share   mean log-likelihood ratio",
  ];
  for (const b of p.bins) {
    if (b.count === 0) continue;
    lines.push(`  ${num(b.lo, 2).padStart(7)} – ${num(b.hi, 2).padEnd(7)} ${String(b.count).padStart(9)}   ${pct(b.proxyCount / b.count).padStart(10)}   ${num(b.meanLlr, 2).padStart(8)}`);
  }
  return lines;
}

export function formatUnitReport(u: UnitRecord, proxy: ProxyReport | null = u.proxy, examples = 10): string {
  const lines: string[] = [];
  lines.push(`${u.name}  ${u.label}`);
  lines.push(
    `density ${num(u.density, 5)} (${u.firing} of ${u.tokens} tokens)   max ${num(u.maxActivation)}   mean ${num(u.meanActivation)}`,
  );
  lines.push(`activations  0 ${sparkline(u.histogram.counts)} ${num(u.maxActivation, 2)}`);
  if (u.interpretability) {
    const i = u.interpretability;
    lines.push(`interpretability ${num(i.score, 3)} (F1 of spec ${pct(i.spec)} and sens ${pct(i.sens)}) — best proxy ${i.proxy.length > 100 ? `${i.proxy.slice(0, 97)}...` : i.proxy}`);
    const meaning = proxyMeaning(i.proxy);
    if (meaning) lines.push(`  (${meaning})`);
  }
  if (proxy) lines.push("", ...formatProxy(proxy));
  lines.push("", `logit weights  mean ${num(u.logits.mean, 4)}  std ${num(u.logits.std, 4)}   ${sparkline(u.logits.histogram.counts)}`);
  lines.push(`  promotes  ${u.logits.top.map((t) => `${visibleToken(t.text)} ${num(t.weight, 3)}`).join("  ")}`);
  lines.push(`  suppresses ${u.logits.bottom.map((t) => `${visibleToken(t.text)} ${num(t.weight, 3)}`).join("  ")}`);
  lines.push(
    "",
    `ablation  mean Δloss when zeroed where it fires ${num(u.ablation.meanLossEffect, 4)}${ablationSe(u.ablation.standardError)} nats (n = ${u.ablation.sampled} sampled tokens); per evaluation token ${num(u.ablation.lossEffectPerToken, 6)}`,
  );
  if (u.neurons) {
    lines.push(
      "",
      `not a neuron  most correlated: ${u.neurons.correlated.map((c) => `${c.name} r=${num(c.r)}`).join(", ") || "–"}`,
      `  decoder alignment: ${u.neurons.alignment.map((a) => `${a.name} ${num(a.value)} (${pct(a.fractionOfL1)} of L1)`).join(", ")}`,
    );
  }
  const matches = Object.entries(u.matches);
  if (matches.length) {
    lines.push("", `universality  ${matches.map(([run, m]) => `${run}: ${m.name} r=${num(m.r)} logit r=${num(m.logitR)}`).join("; ")}`);
  }
  lines.push("", `top activations (token in [ ], other firing tokens with ⁽activation⁾)`);
  for (const e of u.top.slice(0, examples)) lines.push(exampleLine(e));
  for (const iv of u.intervals) {
    if (iv.examples.length === 0) continue;
    lines.push(`interval ${num(iv.lo, 2)} – ${num(iv.hi, 2)}, contains ${pct(iv.fraction)}`);
    for (const e of iv.examples) lines.push(exampleLine(e));
  }
  return lines.join("\n");
}

export function formatPromptReport(p: PromptAnalysis, perToken = 3, ranking = 10): string {
  const lines = [`prompt on ${p.run}: ${p.tokens.length} tokens`, ""];
  for (const t of p.tokens) {
    lines.push(`${visibleToken(t.text).padEnd(16)} ${t.features.slice(0, perToken).map((f) => `${f.name} ${num(f.activation, 2)}`).join("  ")}`);
  }
  const table = (title: string, rows: PromptAnalysis["rankings"]["maxActivation"]) => {
    lines.push("", title);
    for (const r of rows.slice(0, ranking)) {
      lines.push(`  ${r.name.padEnd(12)} ${num(r.value, 4).padStart(9)}  at ${visibleToken(p.tokens[r.position]?.text ?? "")}  ${r.label ?? ""}`);
    }
  };
  table("by max activation", p.rankings.maxActivation);
  table("by loss effect when ablated (nats summed over the prompt; positive = the feature helps)", p.rankings.lossEffect);
  table("by direct logit effect on the next token", p.rankings.logitEffect);
  return lines.join("\n");
}

/** " ± SE" of the ablation's mean (a store written before it: a note to re-run analyze). */
/** Plain words for the kinds of best proxy whose spec is not self-explanatory (interpretability.ts' spec forms). */
export function proxyMeaning(spec: string): string | null {
  if (spec.startsWith("after:")) return "fires on the token after one of these tokens, whatever that token is";
  if (spec.startsWith("bigram:")) return "fires on the second token of one of these [previous, current] pairs";
  return null;
}

function ablationSe(se: number | null | undefined): string {
  if (se === undefined) return " (standard error: re-run saekit analyze)";
  return se === null ? "" : ` ± ${num(se, 2)}`;
}
