/**
 * Example windows as rows of token spans: shaded by activation, underlined by the ablation's Δlog-prob; each token's
 * figures in the details panel (tooltip.ts) on hover or keyboard focus (one tab stop per list, arrow keys move).
 */
import type { Example, ExampleToken } from "./types.js";
import { activationBg, deltaColor } from "./colors.js";
import { type Child, h } from "./dom.js";
import { fmt, pct, signed, tokenInline, tokenLabel } from "./format.js";
import { tokenNav } from "./token-nav.js";
import { installTooltips, setTip, tipTable } from "./tooltip.js";

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

/** The details panel of an example token: its id, UTF-8 bytes, activation and the ablation's Δlog-prob. */
export function tokenTip(t: ExampleToken, max: number, next: ExampleToken | undefined): HTMLElement {
  const rows: [string, Child][] = [
    ["token id", String(t.id)],
    ["bytes", h("code", null, [...new TextEncoder().encode(t.text)].map((b) => b.toString(16).padStart(2, "0")).join(" "))],
    ["activation", h("span", { "data-testid": "tip-activation" }, t.activation > 0 ? `${fmt(t.activation)}  (${pct(max > 0 ? t.activation / max : 0, 0)} of max)` : "0")],
  ];
  const nextText = next ? ` of “${tokenLabel(next.text)}”` : "";
  rows.push([`Δ log P(next${nextText})`, h("span", { "data-testid": "tip-delta" }, t.logprobDelta === null ? "—" : `${signed(t.logprobDelta)} when zeroed`)]);
  return tipTable(h("span", { class: "chip" }, tokenLabel(t.text)), rows);
}

export function tokenSpan(t: ExampleToken, style: TokenStyle, next: ExampleToken | undefined, centre: boolean): HTMLSpanElement {
  const rel = style.max > 0 ? t.activation / style.max : 0;
  const ws = /^\s+$/.test(t.text) || t.text.includes("\n");
  const cls = ["tok"];
  if (centre) cls.push("centre");
  if (ws) cls.push("ws");
  if (t.activation > 0) cls.push("on");
  const css: string[] = [`background:${activationBg(rel)}`];
  if (rel > 0.55) cls.push("strong");
  if (rel > 0.75) cls.push("stronger");
  if (style.underline && t.logprobDelta !== null && t.logprobDelta !== 0 && style.deltaMax > 0) {
    const m = Math.min(1, Math.abs(t.logprobDelta) / style.deltaMax);
    if (m >= 0.02) {
      const px = 2 + Math.round(m * 3);
      css.push(`box-shadow:0 ${px + 1}px 0 -1px ${deltaColor(t.logprobDelta, 0.4 + 0.6 * m)}`);
      cls.push(t.logprobDelta < 0 ? "helped" : "hurt");
    }
  }
  const span = h(
    "span",
    {
      class: cls.join(" "),
      style: css.join(";"),
      "data-testid": "token",
      "data-activation": String(t.activation),
      "data-logprob-delta": t.logprobDelta === null ? "" : String(t.logprobDelta),
    },
    tokenInline(t.text),
  );
  setTip(span, () => tokenTip(t, style.max, next));
  return span;
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
  installTooltips();
  const list = h("div", { class: "examples", role: "group", "aria-label": "example windows: arrow keys move between tokens, up and down between examples" }, examples.map((ex) => exampleRow(ex, style)));
  tokenNav(list, ".tok", ".example");
  return list;
}
