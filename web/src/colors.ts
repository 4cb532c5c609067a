/** Colour scales. Blue/red are reserved for signed effects (ablation, logit weights); orange for activations. */

export const BLUE = "#2166ac";
export const RED = "#c0392b";
export const ACCENT = "#d9730d";
export const GREY = "#9aa0a6";
export const NON_PROXY_FILL = "rgba(60, 64, 67, 0.07)";
export const NON_PROXY_BORDER = "#9aa0a6";

type Rgb = [number, number, number];

function hex(c: string): Rgb {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Purple (negative) → grey (0) → green (positive): PRGn with a visible middle, for the proxy's log-likelihood ratio. */
const DIVERGING: [number, Rgb][] = [
  [-1, hex("#5e2b7b")],
  [-0.5, hex("#a887c2")],
  [0, hex("#c9c9c9")],
  [0.5, hex("#74b975")],
  [1, hex("#17693a")],
];

/** t in [−1, 1] (clamped) → CSS colour. */
export function diverging(t: number): string {
  const x = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  for (let i = 1; i < DIVERGING.length; i++) {
    const [t1, c1] = DIVERGING[i]!;
    const [t0, c0] = DIVERGING[i - 1]!;
    if (x <= t1) {
      const f = (x - t0) / (t1 - t0);
      const c = c0.map((v, k) => Math.round(v + (c1[k]! - v) * f));
      return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    }
  }
  const last = DIVERGING[DIVERGING.length - 1]![1];
  return `rgb(${last[0]}, ${last[1]}, ${last[2]})`;
}

export function divergingGradientCss(): string {
  const stops = DIVERGING.map(([t, c]) => `rgb(${c[0]}, ${c[1]}, ${c[2]}) ${((t + 1) / 2) * 100}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

/** Background of a token by its activation relative to the unit's max (0..1). */
export function activationBg(rel: number): string {
  if (!(rel > 0)) return "transparent";
  const a = 0.12 + 0.78 * Math.min(1, rel);
  return `rgba(240, 128, 20, ${a.toFixed(3)})`;
}

/** Underline colour of a Δlog-prob: blue when ablating lowers the next token's log-prob (the unit helped), red when it raises it. */
export function deltaColor(delta: number, alpha: number): string {
  const a = Math.max(0, Math.min(1, alpha)).toFixed(3);
  return delta < 0 ? `rgba(33, 102, 172, ${a})` : `rgba(192, 57, 43, ${a})`;
}

/** A colour from the stylesheet's theme variables (web/styles.css :root), or `fallback` before it loads. */
export function themeColor(variable: string, fallback: string): string {
  if (typeof document === "undefined") return fallback;
  const v = getComputedStyle(document.documentElement).getPropertyValue(variable).trim();
  return v || fallback;
}
