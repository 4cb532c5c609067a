/**
 * Each unit's code share: the share of its activation mass (sum of its activations) that falls on code tokens of the
 * evaluation, against prose. Mass rather than firing count, like the proxies' specificity, so a unit that fires
 * weakly everywhere but strongly on code counts as a code unit. The evaluation holds the same number of sequences of
 * each domain (eval-tokens.ts), so 0.5 is the neutral value; dead units (no mass) get NaN.
 *
 * Stored as the optional `codeShare` column of index.safetensors (NaN in stores written before it).
 */

/** The domain whose share the column holds. */
export const CODE_DOMAIN = "code";

export class DomainMass {
  /** [domain × units] activation mass. */
  private readonly mass: Float64Array;

  constructor(readonly units: number, readonly domainNames: readonly string[]) {
    if (!Number.isInteger(units) || units < 0) throw new RangeError(`domain mass: units must be a non-negative integer, got ${units}`);
    this.mass = new Float64Array(units * domainNames.length);
  }

  /** One token's sparse activations (indices[start..end), values[start..end)) in domain `domain`. */
  addSparse(domain: number, indices: Int32Array, values: Float32Array, start: number, end: number): void {
    const base = domain * this.units;
    for (let e = start; e < end; e++) this.mass[base + indices[e]!]! += values[e]!;
  }

  /** One (unit, activation) in domain `domain` (dense rows: the caller skips zeros). */
  add(domain: number, unit: number, value: number): void {
    this.mass[domain * this.units + unit]! += value;
  }

  /** Mass in `domain` / mass in all domains, per unit (NaN without mass, or when no domain has that name). */
  share(domainName: string = CODE_DOMAIN): Float32Array {
    const out = new Float32Array(this.units).fill(Number.NaN);
    const d = this.domainNames.indexOf(domainName);
    if (d < 0) return out;
    const D = this.domainNames.length;
    for (let u = 0; u < this.units; u++) {
      let total = 0;
      for (let k = 0; k < D; k++) total += this.mass[k * this.units + u]!;
      if (total > 0) out[u] = this.mass[d * this.units + u]! / total;
    }
    return out;
  }
}
