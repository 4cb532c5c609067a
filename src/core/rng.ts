/**
 * Seeded, reproducible random numbers: xoshiro128** (Blackman & Vigna), hand-written because it is ~30 lines of
 * 32-bit integer arithmetic (Math.imul, shifts) that gives bit-identical sequences on every platform, where a
 * dependency would add nothing. uniform/int/permutation/shuffle are bit-exact everywhere; normal() also goes
 * through Math.log/sin/cos, which V8 computes in software (the same on every Node platform) but which the
 * language does not pin down across engines.
 */
import type { FloatArray } from "./kernels.js";

/** JSON-serialisable snapshot of an Rng, for checkpoints. */
export interface RngState {
  algorithm: "xoshiro128**";
  /** The four 32-bit state words, as unsigned integers. */
  s: [number, number, number, number];
  /** The cached second Box–Muller sample, if any. */
  spare: number | null;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** MurmurHash3's 32-bit finaliser: a bijection on uint32 with full avalanche, used for seeding and forking. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A safe integer split into its low and high 32-bit words (two's complement for negatives). */
function splitSafeInteger(name: string, value: number): [number, number] {
  if (!Number.isSafeInteger(value)) throw new RangeError(`Rng: ${name} must be a safe integer, got ${value}`);
  return [value >>> 0, Math.floor(value / TWO_POW_32) >>> 0];
}

function checkCount(name: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`Rng: ${name} must be an integer in [0, ${max}], got ${n}`);
  }
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** Any safe integer seed; distinct seeds give distinct initial states. */
  constructor(seed: number) {
    const [lo, hi] = splitSafeInteger("seed", seed);
    // (lo, hi) → (s0, s1) is injective; s2, s3 mix both words.
    this.setWords(
      mix32((lo + 0x9e3779b9) >>> 0),
      mix32((hi + 0x7f4a7c15) >>> 0),
      mix32((lo ^ mix32(hi ^ 0x6a09e667)) >>> 0),
      mix32((hi ^ mix32(lo ^ 0xbb67ae85)) >>> 0),
    );
  }

  /** Next raw output, uniform on [0, 2³²). */
  uint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    let s2 = this.s2 ^ s0;
    let s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    this.s2 = s2;
    this.s3 = s3;
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }

  /** Standard normal (Box–Muller; the second sample of each pair is cached and part of the state). */
  normal(): number {
    if (this.spare !== null) {
      const cached = this.spare;
      this.spare = null;
      return cached;
    }
    const u1 = 1 - this.uniform(); // (0, 1], so the log is finite
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2⁵³, without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^53], got ${n}`);
    }
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n); // largest multiple of n that fits
      let x = this.uint32();
      while (x >= limit) x = this.uint32();
      return x % n;
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    let x = this.uniform() * TWO_POW_53; // an exact 53-bit integer
    while (x >= limit) x = this.uniform() * TWO_POW_53;
    return x % n;
  }

  /** arr[i] = lo + (hi − lo) · uniform(). */
  fillUniform(arr: FloatArray, lo: number, hi: number): void {
    const width = hi - lo;
    for (let i = 0; i < arr.length; i++) arr[i] = lo + width * this.uniform();
  }

  /** arr[i] = mean + std · normal(). */
  fillNormal(arr: FloatArray, mean: number, std: number): void {
    for (let i = 0; i < arr.length; i++) arr[i] = mean + std * this.normal();
  }

  /** A uniformly random permutation of 0..n−1. */
  permutation(n: number): Int32Array {
    checkCount("permutation n", n, 0x7fffffff);
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    return this.shuffle(perm);
  }

  /** Fisher–Yates shuffle in place; returns its argument. */
  shuffle<T>(arr: T[]): T[];
  shuffle(arr: Int32Array): Int32Array;
  shuffle<T>(arr: T[] | Int32Array): T[] | Int32Array {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    return arr;
  }

  /**
   * A child generator for `stream` (any safe integer), derived from this generator's current state without
   * advancing it: the same state and stream always give the same child; different streams give unrelated ones.
   */
  fork(stream: number): Rng {
    const [lo, hi] = splitSafeInteger("stream", stream);
    return Rng.fromWords(
      mix32((this.s0 ^ mix32((lo + 0x3c6ef372) >>> 0)) >>> 0),
      mix32((this.s1 ^ mix32((hi + 0xa54ff53a) >>> 0)) >>> 0),
      mix32((this.s2 ^ mix32(lo ^ 0x510e527f)) >>> 0),
      mix32((this.s3 ^ mix32(hi ^ 0x9b05688c)) >>> 0),
      null,
    );
  }

  /** A JSON-serialisable snapshot; `Rng.fromState(rng.state())` continues the exact same sequence. */
  state(): RngState {
    return {
      algorithm: "xoshiro128**",
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
      spare: this.spare,
    };
  }

  static fromState(state: RngState): Rng {
    if (state === null || typeof state !== "object" || state.algorithm !== "xoshiro128**") {
      throw new RangeError(`Rng.fromState: expected an xoshiro128** state, got ${JSON.stringify(state)}`);
    }
    const words = state.s;
    if (!Array.isArray(words) || words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) || words.every((w) => w === 0)) {
      throw new RangeError(`Rng.fromState: s must be four uint32 words, not all zero, got ${JSON.stringify(words)}`);
    }
    if (state.spare !== null && !Number.isFinite(state.spare)) {
      throw new RangeError(`Rng.fromState: spare must be a finite number or null, got ${state.spare}`);
    }
    return Rng.fromWords(words[0], words[1], words[2], words[3], state.spare);
  }

  private static fromWords(s0: number, s1: number, s2: number, s3: number, spare: number | null): Rng {
    const rng = new Rng(0);
    rng.setWords(s0, s1, s2, s3);
    rng.spare = spare;
    return rng;
  }

  /** Installs a state; the all-zero state is a fixed point of xoshiro and is replaced. */
  private setWords(s0: number, s1: number, s2: number, s3: number): void {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9 | 0;
  }
}
