/** Example windows as rows of token spans: shaded by activation, underlined by the ablation's Δlog-prob. */
import type { Example, ExampleToken } from "./types.js";
import { activationBg, deltaColor } from "./colors.js";
import { h } from "./dom.js";
import { fmt, pct, signed, tokenInline, tokenLabel } from "./format.js";

export interface TokenStyle {
  /** The unit's max activation: shading is relative to it. */
  max: number;
  /** Show Δlog-prob underlines, scaled by deltaMax (the largest |Δ| on show). */
  underline: boolean;
  deltaMax: number;
}

/**
 * The |Δlog-prob| that gets a full underline: the 90th percentile of the non-zero |Δ| on show, so one outlier does
 * not fade every other underline (larger values are drawn full).
 */
export function deltaScale(examples: Example[]): number {
  const v: number[] = [];
  for (const ex of examples) for (const t of ex.tokens) if (t.logprobDelta !== null && t.logprobDelta !== 0) v.push(Math.abs(t.logprobDelta));
  if (v.length === 0) return 0;
  v.sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(0.9 * (v.length - 1)))]!;
}

export function tokenTitle(t: ExampleToken, max: number, next: ExampleToken | undefined): string {
  const lines = [`"${tokenLabel(t.text)}"  (id ${t.id})`];
  lines.push(t.activation > 0 ? `activation ${fmt(t.activation)}  (${pct(max > 0 ? t.activation / max : 0, 0)} of max)` : "activation 0");
  if (t.logprobDelta === null) lines.push("Δ log-prob: —");
  else {
    const nextText = next ? ` of "${tokenLabel(next.text)}"` : "";
    lines.push(`Δ log P(next${nextText}) when zeroed: ${signed(t.logprobDelta)}`);
  }
  return lines.join("\n");
}

export function tokenSpan(t: ExampleToken, style: TokenStyle, next: ExampleToken | undefined, centre: boolean): HTMLSpanElement {
  const rel = style.max > 0 ? t.activation / style.max : 0;
  const ws = /^\s+$/.test(t.text) || t.text.includes("\n");
  const cls = ["tok"];
  if (centre) cls.push("centre");
  if (ws) cls.push("ws");
  if (t.activation > 0) cls.push("on");
  const css: string[] = [`background:${activationBg(rel)}`];
  if (rel > 0.55) css.push("color:#1a0d00");
  if (style.underline && t.logprobDelta !== null && t.logprobDelta !== 0 && style.deltaMax > 0) {
    const m = Math.min(1, Math.abs(t.logprobDelta) / style.deltaMax);
    if (m >= 0.02) {
      const px = 2 + Math.round(m * 3);
      css.push(`box-shadow:0 ${px + 1}px 0 -1px ${deltaColor(t.logprobDelta, 0.4 + 0.6 * m)}`);
      cls.push(t.logprobDelta < 0 ? "helped" : "hurt");
    }
  }
  return h(
    "span",
    {
      class: cls.join(" "),
      style: css.join(";"),
      title: tokenTitle(t, style.max, next),
      "data-testid": "token",
      "data-activation": String(t.activation),
      "data-logprob-delta": t.logprobDelta === null ? "" : String(t.logprobDelta),
    },
    tokenInline(t.text),
  );
}

/**
 * One example: its activation and domain, then the window with the example token aligned in a middle column
 * (text before it right-aligned, so the max-activating tokens line up down the list).
 */
export function exampleRow(ex: Example, style: TokenStyle): HTMLElement {
  const centre = ex.position - ex.start;
  const spans = ex.tokens.map((t, i) => tokenSpan(t, style, ex.tokens[i + 1], i === centre));
  const valid = centre >= 0 && centre < spans.length;
  const before = valid ? spans.slice(0, centre) : spans;
  const mid = valid ? [spans[centre]!] : [];
  const after = valid ? spans.slice(centre + 1) : [];
  return h(
    "div",
    { class: "example", "data-testid": "example", "data-sequence": ex.sequence, "data-position": ex.position },
    h(
      "div",
      { class: "ex-meta", title: `sequence ${ex.sequence}, position ${ex.position}` },
      h("span", { class: "ex-act" }, fmt(ex.activation)),
      h("span", { class: "ex-domain" }, ex.domain),
    ),
    h("div", { class: "ex-before" }, before),
    h("div", { class: "ex-centre" }, mid),
    h("div", { class: "ex-after" }, after),
  );
}

export function exampleList(examples: Example[], style: TokenStyle): HTMLElement {
  if (examples.length === 0) return h("p", { class: "note" }, "No examples.");
  return h("div", { class: "examples" }, examples.map((ex) => exampleRow(ex, style)));
}
