/** Index of the first NaN or ±Inf in `data`, or −1: the one check every weight and activation loader uses. */
export function firstNonFinite(data: Float32Array): number {
  // Fast path without a branch per element: x·0 is 0 for finite x and NaN otherwise, and one NaN poisons the sum.
  let acc = 0;
  for (let i = 0; i < data.length; i++) acc += data[i]! * 0;
  if (acc === 0) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}
