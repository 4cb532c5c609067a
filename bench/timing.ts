/** Small timing helpers for benchmark scripts (best-of-N wall time; benchmarks print, they never assert). */

/** Best wall time in milliseconds over `reps` runs after `warmup` untimed runs. */
export function bestOf(reps: number, fn: () => void, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, j) => Math.max(...cells.map((r) => r[j]!.length)));
  // First column (labels) left-aligned, figures right-aligned.
  return cells.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  ")).join("\n");
}
