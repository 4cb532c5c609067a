import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  bfloat16BitsToFloat32,
  bfloat16BitsToFloat32Array,
  encodeSafetensors,
  float16BitsToFloat32,
  float16BitsToFloat32Array,
  float32ArrayToBfloat16Bits,
  float32ArrayToFloat16Bits,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  findDuplicateJsonKey,
  loadSafetensors,
  openSafetensors,
  saveSafetensors,
  saveSafetensorsAsync,
  SafetensorsError,
  type SafetensorsTensorToSave,
} from "../../src/io/safetensors.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-st-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

// --- helpers -------------------------------------------------------------------------------

function u64le(n: number | bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function concat(...parts: (Uint8Array | string)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p)));
}

/** A file from a header (JSON text or raw bytes) and a data buffer; `declaredLength` overrides N. */
function writeRaw(name: string, header: string | Uint8Array, data: Uint8Array = new Uint8Array(), declaredLength?: bigint) {
  const headerBytes = typeof header === "string" ? Buffer.from(header, "utf8") : header;
  const file = path.join(dir, name);
  fs.writeFileSync(file, concat(u64le(declaredLength ?? BigInt(headerBytes.length)), headerBytes, data));
  return file;
}

function f32le(...values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

function expectOpenError(file: string, ...fragments: (string | RegExp)[]) {
  let error: unknown;
  try {
    openSafetensors(file).close();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(SafetensorsError);
  const message = (error as Error).message;
  expect(message).toContain(file);
  for (const f of fragments) {
    if (typeof f === "string") expect(message).toContain(f);
    else expect(message).toMatch(f);
  }
  return message;
}

const hex = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;

// --- round trips ---------------------------------------------------------------------------

describe("round trip", () => {
  it("round-trips every dtype with its stored values, shapes and metadata", () => {
    const tensors: Record<string, SafetensorsTensorToSave> = {
      bool: { dtype: "BOOL", shape: [3], data: Uint8Array.of(1, 0, 1) },
      u8: { dtype: "U8", shape: [2, 2], data: Uint8Array.of(0, 1, 254, 255) },
      i8: { dtype: "I8", shape: [3], data: Int8Array.of(-128, 0, 127) },
      i16: { dtype: "I16", shape: [3], data: Int16Array.of(-32768, 1, 32767) },
      u16: { dtype: "U16", shape: [2], data: Uint16Array.of(0, 65535) },
      f16: { dtype: "F16", shape: [3], data: Uint16Array.of(0x3c00, 0xc100, 0x7c00) },
      bf16: { dtype: "BF16", shape: [3], data: Uint16Array.of(0x3f80, 0xc020, 0x7fc0) },
      i32: { dtype: "I32", shape: [1, 3], data: Int32Array.of(-(2 ** 31), 7, 2 ** 31 - 1) },
      u32: { dtype: "U32", shape: [2], data: Uint32Array.of(0, 2 ** 32 - 1) },
      f32: { dtype: "F32", shape: [2, 3], data: Float32Array.of(0, -0, 1.5, -1e30, Infinity, 3.14159) },
      f64: { dtype: "F64", shape: [3], data: Float64Array.of(Math.PI, -1e300, 5e-324) },
      i64: { dtype: "I64", shape: [3], data: BigInt64Array.of(-(2n ** 63n), 42n, 2n ** 63n - 1n) },
      u64: { dtype: "U64", shape: [2], data: BigUint64Array.of(0n, 2n ** 64n - 1n) },
      scalar: { dtype: "F32", shape: [], data: Float32Array.of(2.5) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    };
    const file = path.join(dir, "all.safetensors");
    saveSafetensors(file, tensors, { format: "pt", note: "ünïcode ✓", "": "empty key" });

    const loaded = loadSafetensors(file);
    expect(loaded.metadata).toEqual({ format: "pt", note: "ünïcode ✓", "": "empty key" });
    expect(Object.keys(loaded.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = loaded.tensors[name]!;
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(got.data.constructor, name).toBe(t.data.constructor);
      expect([...got.data], name).toEqual([...t.data]);
    }
    // -0 survives bit-exactly.
    expect(Object.is(loaded.tensors.f32!.data[1], -0)).toBe(true);

    // What loadSafetensors returns writes back byte-identically.
    const again = path.join(dir, "again.safetensors");
    saveSafetensors(again, loaded.tensors, loaded.metadata);
    expect(fs.readFileSync(again).equals(fs.readFileSync(file))).toBe(true);
  });

  it("writes Float32Array data as F16/BF16 with rounding and reads it back as float32", () => {
    const values = Float32Array.of(1, -2.5, 65504, 65520, 1e-8, NaN, 0.1, -Infinity);
    const file = path.join(dir, "half.safetensors");
    saveSafetensors(file, {
      h: { dtype: "F16", shape: [values.length], data: values },
      b: { dtype: "BF16", shape: [2, 4], data: values },
    });
    const reader = openSafetensors(file);
    try {
      expect([...(reader.read("h") as Uint16Array)].map(hex)).toEqual(
        [0x3c00, 0xc100, 0x7bff, 0x7c00, 0x0000, 0x7e00, 0x2e66, 0xfc00].map(hex),
      );
      expect([...reader.readFloat32("h")]).toEqual([1, -2.5, 65504, Infinity, 0, NaN, 0.0999755859375, -Infinity]);
      expect([...(reader.read("b") as Uint16Array)].map(hex)).toEqual(
        [0x3f80, 0xc020, 0x4780, 0x4780, 0x322c, 0x7fc0, 0x3dcd, 0xff80].map(hex),
      );
      expect(reader.readFloat32("b")[0]).toBe(1);
      expect(reader.readFloat32("b")[2]).toBe(65536);
    } finally {
      reader.close();
    }
  });

  it("saveSafetensorsAsync writes the same bytes as saveSafetensors, Map input included", async () => {
    const tensors = new Map<string, SafetensorsTensorToSave>([
      ["w", { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) }],
      ["i", { dtype: "I32", shape: [1], data: Int32Array.of(3) }],
    ]);
    const a = path.join(dir, "a.safetensors");
    const b = path.join(dir, "b.safetensors");
    saveSafetensors(a, tensors, { k: "v" });
    await saveSafetensorsAsync(b, tensors, { k: "v" });
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(["a.safetensors", "b.safetensors"]);
  });

  it("keeps awkward tensor names such as __proto__ and integer-like names", () => {
    const file = path.join(dir, "names.safetensors");
    const tensors = Object.fromEntries([
      ["__proto__", { dtype: "F32", shape: [1], data: Float32Array.of(1) }],
      ["10", { dtype: "F32", shape: [1], data: Float32Array.of(2) }],
      ["2", { dtype: "F32", shape: [1], data: Float32Array.of(3) }],
      ["blocks.0.attn.W_Q", { dtype: "F32", shape: [1], data: Float32Array.of(4) }],
    ]) as Record<string, SafetensorsTensorToSave>;
    saveSafetensors(file, tensors);
    const loaded = loadSafetensors(file);
    expect(Object.hasOwn(loaded.tensors, "__proto__")).toBe(true);
    expect([...loaded.tensors["__proto__"]!.data]).toEqual([1]);
    // Buffer order is by name bytes ("10" < "2" < "__proto__" < "blocks...").
    expect(openSafetensorsNames(file)).toEqual(["10", "2", "__proto__", "blocks.0.attn.W_Q"]);
    expect(loaded.metadata).toBeUndefined();
  });
});

function openSafetensorsNames(file: string): string[] {
  const r = openSafetensors(file);
  try {
    return r.names();
  } finally {
    r.close();
  }
}

// --- exact bytes ---------------------------------------------------------------------------

describe("byte-exact output", () => {
  it("matches a file constructed by hand from the spec (two dtypes plus metadata)", () => {
    const file = path.join(dir, "exact.safetensors");
    saveSafetensors(
      file,
      {
        weight: { dtype: "F32", shape: [2], data: Float32Array.of(1, -2) },
        idx: { dtype: "I64", shape: [1], data: BigInt64Array.of(5n) },
      },
      { format: "pt" },
    );
    // I64 sorts before F32 (descending dtype alignment), so idx occupies bytes [0, 8).
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"idx":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
      '"weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' +
      "      "; // 146 bytes of JSON + 6 spaces = 152, a multiple of 8
    const expected = Uint8Array.of(
      ...[152, 0, 0, 0, 0, 0, 0, 0],
      ...Buffer.from(header, "utf8"),
      ...[5, 0, 0, 0, 0, 0, 0, 0], // 5n, little-endian i64
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f
      ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
    );
    expect([...fs.readFileSync(file)]).toEqual([...expected]);
  });

  it("matches the reference serializer's documented outputs", () => {
    const bytesOf = (chunks: Iterable<Uint8Array>) => Buffer.concat([...chunks]);
    // One F32 tensor whose 64-byte header needs no padding.
    expect(
      bytesOf(
        encodeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) } }),
      ),
    ).toEqual(
      Buffer.from(
        concat(u64le(64), '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', f32le(0, 1, 2, 3, 4, 5)),
      ),
    );
    // No tensors: "{}" padded with six spaces; with metadata: 35 bytes padded to 40.
    expect(bytesOf(encodeSafetensors({}))).toEqual(Buffer.from(concat(u64le(8), "{}      ")));
    expect(bytesOf(encodeSafetensors({}, { framework: "pt" }))).toEqual(
      Buffer.from(concat(u64le(40), '{"__metadata__":{"framework":"pt"}}     ')),
    );
  });

  it("orders the buffer by dtype alignment descending, then by name, and starts data at a multiple of 8", () => {
    const file = path.join(dir, "order.safetensors");
    saveSafetensors(file, {
      b: { dtype: "F32", shape: [1], data: Float32Array.of(1) },
      a: { dtype: "F32", shape: [1], data: Float32Array.of(2) },
      d: { dtype: "U8", shape: [3], data: Uint8Array.of(1, 2, 3) },
      e: { dtype: "BF16", shape: [1], data: Uint16Array.of(0x3f80) },
      c: { dtype: "I64", shape: [1], data: BigInt64Array.of(1n) },
      f: { dtype: "F64", shape: [1], data: Float64Array.of(1) },
    });
    const r = openSafetensors(file);
    try {
      expect(r.names()).toEqual(["c", "f", "a", "b", "e", "d"]);
      expect(r.dataStart % 8).toBe(0);
      for (const name of r.names()) {
        const info = r.info(name);
        expect(info.fileOffset % (info.byteLength / Math.max(1, info.shape.reduce((x, y) => x * y, 1)))).toBe(0);
      }
      expect(r.info("a")).toMatchObject({ dtype: "F32", shape: [1], dataOffsets: [16, 20], byteLength: 4 });
      expect(r.info("a").fileOffset).toBe(r.dataStart + 16);
    } finally {
      r.close();
    }
  });
});

// --- F16 / BF16 conversion -----------------------------------------------------------------

/** Nearest representable value by brute force over the sorted candidate list, ties to even pattern. */
function nearestBits(v: number, decode: (bits: number) => number, maxFinite: number, infBits: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | infBits;
  let lo = 0;
  let hi = maxFinite; // decode(lo) <= a guaranteed; find the largest pattern with decode <= a
  if (decode(hi) <= a) lo = hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (decode(mid) <= a) lo = mid;
    else hi = mid;
  }
  const below = decode(lo);
  const above = lo === maxFinite ? 2 * decode(maxFinite) - decode(maxFinite - 1) : decode(lo + 1); // next step past max = overflow
  const candidateAbove = lo === maxFinite ? infBits : lo + 1;
  if (a - below < above - a) return sign | lo;
  if (a - below > above - a) return sign | candidateAbove;
  return sign | ((lo & 1) === 0 ? lo : candidateAbove);
}

describe("F16 conversion", () => {
  it("converts known values bit-exactly", () => {
    const cases: [number, number][] = [
      [1.0, 0x3c00],
      [-2.5, 0xc100],
      [65504, 0x7bff], // largest finite
      [65519, 0x7bff], // below the overflow midpoint
      [65520, 0x7c00], // midpoint to 65536 ties to even -> overflow to Inf
      [-65520, 0xfc00],
      [1e6, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [NaN, 0x7e00],
      [0, 0x0000],
      [-0, 0x8000],
      [1e-8, 0x0000], // below half the smallest subnormal
      [-1e-8, 0x8000],
      [2 ** -24, 0x0001], // smallest subnormal
      [6e-8, 0x0001],
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 -> even (0)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps -> even (2)
      [5 * 2 ** -25, 0x0002], // tie between 2 and 3 ulps -> even (2)
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1023.5 * 2 ** -24, 0x0400], // tie rounds up into the smallest normal
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10 -> even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02 -> even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [2048 + 1, 0x6800], // 2049 is a tie between 2048 and 2050 -> even
      [2048 + 3, 0x6802], // 2051 ties to 2052
    ];
    for (const [value, bits] of cases) {
      expect(hex(float32ToFloat16Bits(value)), `${value}`).toBe(hex(bits));
    }
    expect(hex(float32ArrayToFloat16Bits(Float32Array.from(cases, (c) => c[0]))[4]!)).toBe(hex(0x7c00));
  });

  it("decodes known patterns exactly", () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0xc100)).toBe(-2.5);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
  });

  it("round-trips all 65536 patterns (NaNs stay NaN) and the array forms agree", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = float16BitsToFloat32Array(all);
    const encoded = float32ArrayToFloat16Bits(decoded);
    for (let h = 0; h < 65536; h++) {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) {
        expect(decoded[h]).toBeNaN();
        expect(encoded[h]! & 0x7e00).toBe(0x7e00);
      } else if (encoded[h] !== h || decoded[h] !== float16BitsToFloat32(h)) {
        expect(hex(encoded[h]!), `pattern ${hex(h)}`).toBe(hex(h));
      }
    }
  });

  it("rounds random float32 values to the nearest F16 (ties to even), checked by brute force", () => {
    const decode = (b: number) => float16BitsToFloat32(b);
    const bits = new Uint32Array(20000);
    const floats = new Float32Array(bits.buffer);
    let seed = 12345;
    for (let i = 0; i < bits.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Exponents around the F16 range (2^-27 .. 2^17) so subnormals, normals and overflow all occur.
      const exp = 100 + (seed % 45);
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      bits[i] = ((seed & 0x80000000) | (exp << 23) | (seed & 0x7fffff)) >>> 0;
    }
    // Exact ties in mantissa bits too.
    bits[0] = 0x3f801000; // 1 + 2^-11
    bits[1] = 0x3f803000; // 1 + 3*2^-11
    const got = float32ArrayToFloat16Bits(floats);
    for (let i = 0; i < floats.length; i++) {
      const want = nearestBits(floats[i]!, decode, 0x7bff, 0x7c00);
      if (got[i] !== want) expect(hex(got[i]!), `value ${floats[i]}`).toBe(hex(want));
    }
  });
});

describe("BF16 conversion", () => {
  it("converts known values bit-exactly", () => {
    const cases: [number, number][] = [
      [1.0, 0x3f80],
      [-2.5, 0xc020],
      [65504, 0x4780], // rounds up to 65536
      [1e-8, 0x322c],
      [NaN, 0x7fc0],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
      [-0, 0x8000],
      [3.4028234663852886e38, 0x7f80], // float32 max rounds to Inf
      [1 + 2 ** -8, 0x3f80], // tie -> even
      [1 + 3 * 2 ** -8, 0x3f82], // tie -> even
      [1 + 2 ** -8 + 2 ** -20, 0x3f81], // above the tie
      [2 ** -149, 0x0000], // smallest float32 subnormal: far below half a bf16 ulp
      [2 ** -133, 0x0001], // smallest bf16 subnormal
      [3 * 2 ** -134, 0x0002], // tie between 1 and 2 ulps -> even
    ];
    for (const [value, bits] of cases) {
      expect(hex(float32ToBfloat16Bits(value)), `${value}`).toBe(hex(bits));
    }
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc020)).toBe(-2.5);
    expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN();
    expect(Object.is(bfloat16BitsToFloat32(0x8000), -0)).toBe(true);
  });

  it("rounds random float32 values to the nearest BF16 (ties to even), checked by brute force", () => {
    const bits = new Uint32Array(20000);
    const floats = new Float32Array(bits.buffer);
    let seed = 777;
    for (let i = 0; i < bits.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const exp = seed % 255; // any finite exponent, subnormals included
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      bits[i] = ((seed & 0x80000000) | (exp << 23) | (seed & 0x7fffff)) >>> 0;
    }
    const got = float32ArrayToBfloat16Bits(floats);
    const back = bfloat16BitsToFloat32Array(got);
    for (let i = 0; i < floats.length; i++) {
      const want = nearestBits(floats[i]!, bfloat16BitsToFloat32, 0x7f7f, 0x7f80);
      if (got[i] !== want) expect(hex(got[i]!), `value ${floats[i]}`).toBe(hex(want));
      expect(back[i]).toBe(bfloat16BitsToFloat32(want));
    }
  });

  it("converts 16-bit patterns into a given buffer (the activation cache's reused one), refusing short or overlapping ones", () => {
    const patterns = Uint16Array.from({ length: 300 }, (_, i) => (i * 2654435761) >>> 16);
    const out = new Float32Array(400).fill(7);
    expect(bfloat16BitsToFloat32Array(patterns, out)).toBe(out);
    patterns.forEach((b, i) => expect(Object.is(out[i], bfloat16BitsToFloat32(b))).toBe(true));
    expect(out[300]).toBe(7); // nothing past the input's length is touched
    expect(float16BitsToFloat32Array(patterns, out)).toBe(out);
    patterns.forEach((b, i) => expect(Object.is(out[i], float16BitsToFloat32(b))).toBe(true));
    expect(() => bfloat16BitsToFloat32Array(patterns, new Float32Array(299))).toThrow(/output holds 299 values, input 300/);
    const shared = new ArrayBuffer(4096);
    expect(() => bfloat16BitsToFloat32Array(new Uint16Array(shared, 0, 100), new Float32Array(shared, 100, 100))).toThrow(/overlap/);
    expect(bfloat16BitsToFloat32Array(new Uint16Array(shared, 0, 100), new Float32Array(shared, 200, 100))).toHaveLength(100);
  });
});

// --- lazy reading of a large file ----------------------------------------------------------

describe("large files", () => {
  it("reads one small tensor of a ~50 MB file with a few positional reads", () => {
    const file = path.join(dir, "big.safetensors");
    const big = new Float32Array(12_500_000); // 50 MB
    for (let i = 0; i < big.length; i += 1000) big[i] = i;
    big[big.length - 1] = -7;
    saveSafetensors(file, {
      "embed.W_E": { dtype: "F32", shape: [12_500, 1_000], data: big },
      "ln_final.b": { dtype: "F32", shape: [4], data: Float32Array.of(1, 2, 3, 4) },
      "unembed.b_U": { dtype: "F16", shape: [2], data: Float32Array.of(0.5, -1) },
    });
    expect(fs.statSync(file).size).toBeGreaterThan(50_000_000);

    const readSync = vi.spyOn(fs, "readSync");
    const readFileSync = vi.spyOn(fs, "readFileSync");
    // Calls as (fd, buffer, offset, length, position): the positional form the reader uses.
    const calls = () => readSync.mock.calls as unknown as [number, Uint8Array, number, number, number | null][];
    const bytesRequested = () => calls().reduce((sum, call) => sum + call[3], 0);

    const reader = openSafetensors(file);
    try {
      // The spy sees the reader's reads: the length prefix and the header, nothing more.
      expect(bytesRequested()).toBe(8 + reader.headerByteLength);
      expect([...reader.read("ln_final.b")]).toEqual([1, 2, 3, 4]);
      expect([...reader.readFloat32("unembed.b_U")]).toEqual([0.5, -1]);
      expect(bytesRequested()).toBe(8 + reader.headerByteLength + 16 + 4);
      // Every read names an explicit file position.
      for (const call of calls()) expect(typeof call[4]).toBe("number");

      const embed = reader.readFloat32("embed.W_E");
      expect(embed.length).toBe(big.length);
      expect(embed[1000]).toBe(1000);
      expect(embed[big.length - 1]).toBe(-7);
      expect(bytesRequested()).toBe(8 + reader.headerByteLength + 16 + 4 + 50_000_000);
      expect(readFileSync).not.toHaveBeenCalled();
    } finally {
      reader.close();
    }
  });
});

// --- reader API ----------------------------------------------------------------------------

describe("reader", () => {
  it("reads tensors whose data starts at an unaligned file offset", () => {
    // U8 [3] at [0,3), then F32 [2] at [3,11) and I64 [1] at [11,19): neither is aligned in the file.
    const header =
      '{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},' +
      '"c":{"dtype":"I64","shape":[1],"data_offsets":[11,19]}}';
    const file = writeRaw("unaligned.safetensors", header, concat(Uint8Array.of(7, 8, 9), f32le(1.5, -3), u64le(123)));
    const r = openSafetensors(file);
    try {
      expect(r.names()).toEqual(["a", "b", "c"]);
      expect([...r.read("a")]).toEqual([7, 8, 9]);
      expect([...r.read("b")]).toEqual([1.5, -3]);
      expect([...r.read("c")]).toEqual([123n]);
      expect([...r.readInt32("c")]).toEqual([123]);
    } finally {
      r.close();
    }
  });

  it("accepts a header with leading/trailing whitespace and null metadata, and ignores unknown entry fields", () => {
    const header = ' {"__metadata__":null,"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4],"extra":1}}   ';
    const file = writeRaw("ws.safetensors", header, new Uint8Array(Int32Array.of(-9).buffer));
    const loaded = loadSafetensors(file);
    expect(loaded.metadata).toBeUndefined();
    expect([...loaded.tensors.x!.data]).toEqual([-9]);
  });

  it("converts integer tensors with readInt32 (range-checked) and readFloat32", () => {
    const file = path.join(dir, "ints.safetensors");
    saveSafetensors(file, {
      ok64: { dtype: "I64", shape: [3], data: BigInt64Array.of(-(2n ** 31n), 0n, 2n ** 31n - 1n) },
      big64: { dtype: "I64", shape: [2], data: BigInt64Array.of(1n, 2n ** 31n) },
      u32: { dtype: "U32", shape: [1], data: Uint32Array.of(2 ** 32 - 1) },
      u8: { dtype: "U8", shape: [2], data: Uint8Array.of(0, 255) },
      f64: { dtype: "F64", shape: [1], data: Float64Array.of(0.1) },
      f32: { dtype: "F32", shape: [1], data: Float32Array.of(1) },
    });
    const r = openSafetensors(file);
    try {
      expect([...r.readInt32("ok64")]).toEqual([-(2 ** 31), 0, 2 ** 31 - 1]);
      expect([...r.readInt32("u8")]).toEqual([0, 255]);
      expect(() => r.readInt32("big64")).toThrow(/tensor "big64": value 2147483648 at index 1 does not fit in int32/);
      expect(() => r.readInt32("u32")).toThrow(/does not fit in int32/);
      expect(() => r.readInt32("f32")).toThrow(/tensor "f32": dtype F32 is not an integer dtype/);
      expect([...r.readFloat32("ok64")]).toEqual([-(2 ** 31), 0, 2 ** 31]);
      expect(r.readFloat32("f64")[0]).toBe(Math.fround(0.1));
      expect(() => r.info("nope")).toThrow(/no tensor named "nope" \(the file has 6:/);
    } finally {
      r.close();
    }
    expect(() => r.read("u8")).toThrow(/reader is closed/);
  });
});

// --- malformed files -----------------------------------------------------------------------

const T = (name: string, entry: string) => `"${name}":${entry}`;
const goodEntry = (dtype: string, shape: string, offsets: string) =>
  `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

describe("malformed files are rejected with the path and the problem", () => {
  it("file shorter than 8 bytes", () => {
    const file = path.join(dir, "tiny.safetensors");
    fs.writeFileSync(file, Uint8Array.of(1, 0, 0));
    expectOpenError(file, "file is 3 bytes, shorter than the 8-byte header length prefix");
  });

  it("header length larger than the file", () => {
    const file = writeRaw("long.safetensors", "{}", new Uint8Array(), 1000n);
    expectOpenError(file, "header length 1000 exceeds the file size (10 bytes");
  });

  it("absurd header length", () => {
    const file = writeRaw("huge.safetensors", "{}", new Uint8Array(), 2n ** 62n);
    expectOpenError(file, `header length ${2n ** 62n} exceeds the 100000000-byte limit`);
  });

  it("header that is not UTF-8", () => {
    const file = writeRaw("utf8.safetensors", Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d));
    expectOpenError(file, "header is not valid UTF-8");
  });

  it("header that is not JSON", () => {
    expectOpenError(writeRaw("json.safetensors", '{"a": '), "header is not valid JSON");
    expectOpenError(writeRaw("bom.safetensors", "\uFEFF{}"), "header is not valid JSON");
  });

  it("header that is not an object", () => {
    expectOpenError(writeRaw("array.safetensors", "[1, 2]"), "header must be a JSON object, got an array");
    expectOpenError(writeRaw("null.safetensors", "null"), "header must be a JSON object, got null");
  });

  it("entry that is not an object", () => {
    expectOpenError(writeRaw("entry.safetensors", '{"w": 3}'), 'tensor "w": header entry must be an object');
  });

  it("missing or invalid dtype", () => {
    const file = writeRaw("nodtype.safetensors", '{"w":{"shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4));
    expectOpenError(file, 'tensor "w": missing or invalid "dtype"');
  });

  it("unknown dtype", () => {
    const file = writeRaw("dtype.safetensors", `{${T("w", goodEntry("F33", "[1]", "[0,4]"))}}`, new Uint8Array(4));
    expectOpenError(file, 'tensor "w": unknown dtype "F33"');
    const fp8 = writeRaw("fp8.safetensors", `{${T("w", goodEntry("F8_E4M3", "[4]", "[0,4]"))}}`, new Uint8Array(4));
    expectOpenError(fp8, 'tensor "w": dtype "F8_E4M3" is not supported');
  });

  it("missing or invalid shape", () => {
    const file = writeRaw("noshape.safetensors", '{"w":{"dtype":"F32","data_offsets":[0,4]}}', new Uint8Array(4));
    expectOpenError(file, 'tensor "w": missing or invalid "shape"');
  });

  it("shape entries that are not non-negative integers", () => {
    for (const [i, bad, shown] of [
      [0, "[-1]", "-1"],
      [1, "[2,1.5]", "1.5"],
      [0, '["4"]', '"4"'],
    ] as const) {
      const file = writeRaw(`shape${i}${shown.length}.safetensors`, `{${T("w", goodEntry("F32", bad, "[0,4]"))}}`, new Uint8Array(4));
      expectOpenError(file, `tensor "w": shape[${i}] is ${shown}, expected a non-negative integer`);
    }
  });

  it("missing or invalid data_offsets", () => {
    const missing = writeRaw("nooff.safetensors", '{"w":{"dtype":"F32","shape":[1]}}', new Uint8Array(4));
    expectOpenError(missing, 'tensor "w": missing or invalid "data_offsets"');
    const three = writeRaw("off3.safetensors", `{${T("w", goodEntry("F32", "[1]", "[0,4,8]"))}}`, new Uint8Array(4));
    expectOpenError(three, 'tensor "w": missing or invalid "data_offsets"');
    const negative = writeRaw("offneg.safetensors", `{${T("w", goodEntry("F32", "[1]", "[-4,0]"))}}`, new Uint8Array(4));
    expectOpenError(negative, 'tensor "w": missing or invalid "data_offsets"');
  });

  it("data_offsets end before begin", () => {
    const file = writeRaw("endbegin.safetensors", `{${T("w", goodEntry("F32", "[1]", "[4,0]"))}}`, new Uint8Array(4));
    expectOpenError(file, 'tensor "w": data_offsets end 0 is before begin 4');
  });

  it("data_offsets out of range of the buffer", () => {
    const file = writeRaw("range.safetensors", `{${T("w", goodEntry("F32", "[2]", "[0,8]"))}}`, new Uint8Array(4));
    expectOpenError(file, 'tensor "w": data_offsets [0, 8] are out of range of the 4-byte data buffer');
  });

  it("overlapping ranges", () => {
    const header = `{${T("a", goodEntry("F32", "[2]", "[0,8]"))},${T("b", goodEntry("F32", "[1]", "[4,8]"))}}`;
    const file = writeRaw("overlap.safetensors", header, new Uint8Array(8));
    expectOpenError(file, 'tensor "b": data_offsets [4, 8] overlap tensor "a" [0, 8]');
  });

  it("gaps between, before and after the ranges", () => {
    const between = `{${T("a", goodEntry("F32", "[1]", "[0,4]"))},${T("b", goodEntry("F32", "[1]", "[8,12]"))}}`;
    expectOpenError(
      writeRaw("gap.safetensors", between, new Uint8Array(12)),
      'tensor "b": gap in the data buffer: bytes [4, 8) are not covered by any tensor',
    );
    const before = `{${T("a", goodEntry("F32", "[1]", "[4,8]"))}}`;
    expectOpenError(writeRaw("gap0.safetensors", before, new Uint8Array(8)), "bytes [0, 4) are not covered");
    const after = `{${T("a", goodEntry("F32", "[1]", "[0,4]"))}}`;
    expectOpenError(writeRaw("gapend.safetensors", after, new Uint8Array(6)), "2 trailing bytes belong to no tensor");
  });

  it("shape x dtype size different from the byte length", () => {
    const file = writeRaw("size.safetensors", `{${T("w", goodEntry("F16", "[2,3]", "[0,8]"))}}`, new Uint8Array(8));
    expectOpenError(file, 'tensor "w": shape [2, 3] of F16 (2 bytes each) needs 12 bytes, but data_offsets [0, 8] span 8 bytes');
  });

  it("duplicate tensor names (which JSON.parse would silently merge)", () => {
    const header = `{${T("w", goodEntry("F32", "[1]", "[0,4]"))},${T("w", goodEntry("F32", "[1]", "[0,4]"))}}`;
    expectOpenError(writeRaw("dup.safetensors", header, new Uint8Array(4)), 'duplicate tensor name "w"');
    const escaped = `{${T("w", goodEntry("F32", "[1]", "[0,4]"))},${T("\\u0077", goodEntry("F32", "[1]", "[0,4]"))}}`;
    expectOpenError(writeRaw("dupesc.safetensors", escaped, new Uint8Array(4)), 'duplicate tensor name "w"');
    const meta = `{"__metadata__":{},"__metadata__":{}}`;
    expectOpenError(writeRaw("dupmeta.safetensors", meta), "more than one __metadata__");
    const field = '{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
    expectOpenError(writeRaw("dupfield.safetensors", field, new Uint8Array(4)), 'tensor "w": duplicate key "dtype"');
  });

  it("__metadata__ that is not a string-to-string map", () => {
    expectOpenError(
      writeRaw("meta1.safetensors", '{"__metadata__":{"lr":0.001}}'),
      '__metadata__ must be a map of string to string, but key "lr" holds number 0.001',
    );
    expectOpenError(writeRaw("meta2.safetensors", '{"__metadata__":["a"]}'), "__metadata__ must be a map of string to string, got an array");
    expectOpenError(
      writeRaw("meta3.safetensors", '{"__metadata__":{"cfg":{"d_in":512}}}'),
      'key "cfg" holds an object',
    );
  });

  it("a file truncated after the header was validated fails with a clear read error", () => {
    const file = path.join(dir, "trunc.safetensors");
    saveSafetensors(file, { w: { dtype: "F32", shape: [4], data: new Float32Array(4) } });
    const r = openSafetensors(file);
    try {
      fs.truncateSync(file, fs.statSync(file).size - 2);
      expect(() => r.read("w")).toThrow(/file ended after 14 of the 16 bytes of tensor "w"/);
    } finally {
      r.close();
    }
  });
});

describe("invalid write requests", () => {
  it("rejects bad tensors and metadata before creating any file", () => {
    const file = path.join(dir, "bad.safetensors");
    const w = { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } as const;
    expect(() => saveSafetensors(file, { w }, { lr: 0.001 as unknown as string })).toThrow(
      new RegExp(`${file}.*metadata value for key "lr" is number 0.001`),
    );
    expect(() => saveSafetensors(file, { w: { ...w, shape: [3] } })).toThrow(
      /tensor "w": shape \[3\] has 3 elements but data has 2/,
    );
    expect(() => saveSafetensors(file, { w: { ...w, dtype: "I32" } })).toThrow(/tensor "w": dtype I32 needs Int32Array data, got Float32Array/);
    expect(() => saveSafetensors(file, { w: { ...w, dtype: "I64", data: Int32Array.of(1, 2) } })).toThrow(
      /dtype I64 needs BigInt64Array data/,
    );
    expect(() => saveSafetensors(file, { w: { ...w, shape: [-2] } })).toThrow(/shape\[0\] is -2/);
    expect(() => saveSafetensors(file, { __metadata__: w })).toThrow(/reserved/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("findDuplicateJsonKey", () => {
  it("reports duplicates at any depth with the enclosing keys, ignoring strings in arrays and values", () => {
    expect(findDuplicateJsonKey('{"a":1,"b":["a","a"],"c":"a"}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"a":{"x":1},"b":{"x":1}}')).toBeUndefined();
    expect(findDuplicateJsonKey('{"a":{"x":1,"y":[{"k":1,"k":2}]}}')).toEqual({ key: "k", parents: ["a", "y"] });
    expect(findDuplicateJsonKey('{"q\\"":1, "q\\u0022" :2}')).toEqual({ key: 'q"', parents: [] });
  });
});
