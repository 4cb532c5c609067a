/** Number and token-text formatting shared by every page. */

const MINUS = "\u2212";

function finite(x: number | null | undefined): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/** A readable number: thousands separators for large values, about 3 significant digits for small ones. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (!finite(x)) return "—";
  const a = Math.abs(x);
  let s: string;
  if (a === 0) s = "0";
  else if (a >= 1000) s = Math.round(x).toLocaleString("en-US");
  else if (a >= 100) s = x.toFixed(1);
  else if (a >= 1) s = x.toFixed(Math.max(0, digits - 1));
  else if (a >= 0.001) s = x.toPrecision(digits);
  else s = x.toExponential(Math.max(0, digits - 1));
  return s.replace(/-/g, MINUS);
}

/** Always with a sign: "+0.12", "−0.12". */
export function signed(x: number | null | undefined, digits = 3): string {
  if (!finite(x)) return "—";
  const s = fmt(Math.abs(x), digits);
  return x > 0 ? `+${s}` : x < 0 ? `${MINUS}${s}` : s;
}

export function int(x: number | null | undefined): string {
  if (!finite(x)) return "—";
  return Math.round(x).toLocaleString("en-US");
}

/** A fraction as a percentage ("12.3 %"). */
export function pct(x: number | null | undefined, digits = 1): string {
  if (!finite(x)) return "—";
  const v = x * 100;
  const d = Math.abs(v) > 0 && Math.abs(v) < Math.pow(10, -digits) ? digits + 2 : digits;
  return `${v.toFixed(d).replace(/-/g, MINUS)} %`;
}

/** CE loss recovered may come as a fraction (0.959) or already as a percentage (95.9). */
export function pctLoose(x: number | null | undefined): string {
  if (!finite(x)) return "—";
  return pct(Math.abs(x) > 1.5 ? x / 100 : x);
}

/** A feature density: a percentage down to 0.01 %, scientific notation below. */
export function density(x: number | null | undefined): string {
  if (!finite(x)) return "—";
  if (x === 0) return "0";
  if (x >= 1e-4) return pct(x, x >= 0.1 ? 1 : x >= 0.01 ? 2 : 3);
  return x.toExponential(1).replace(/-/g, MINUS);
}

/** Token text with all whitespace visible, for tables and labels: " the" → "·the", "\n" → "↵". */
export function tokenLabel(text: string): string {
  if (text.length === 0) return "∅";
  return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍");
}

/** Token text for running text (example windows): spaces stay spaces, line breaks and tabs become visible marks. */
export function tokenInline(text: string): string {
  if (text.length === 0) return "∅";
  return text.replace(/\r?\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍");
}
