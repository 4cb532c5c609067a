/**
 * safetensors reader and writer, byte-compatible with the reference implementation
 * (huggingface/safetensors, used by SAELens, TransformerLens and `torch`/`numpy` users).
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{"__metadata__": {str: str}, "name": {"dtype", "shape", "data_offsets": [begin, end]}, ...}`
 * padded with spaces so the data buffer starts at a multiple of 8 bytes, then the data buffer:
 * every tensor row-major and little-endian, the ranges tiling the buffer exactly.
 *
 * Reading never loads the whole file: the header is read with positional reads and validated
 * strictly (a corrupt or hostile file fails with a message naming the file and the problem), then
 * each tensor's bytes are read on demand into a fresh, aligned buffer.
 *
 * Writing streams tensor data to an atomically replaced file, so a model of hundreds of MB never
 * exists as one giant Buffer and a crash never leaves a half-written file behind.
 */
import fs from "node:fs";
import { writeFileAtomic, writeFileAtomicSync } from "./atomic.js";

// ---------------------------------------------------------------------------------------------
// dtypes

/**
 * Supported dtypes with their element size and their rank in the reference implementation's
 * `Dtype` enum (declared "in increasing alignment order"); the writer sorts by that rank.
 */
const DTYPES = {
  BOOL: { size: 1, rank: 0 },
  U8: { size: 1, rank: 1 },
  I8: { size: 1, rank: 2 },
  I16: { size: 2, rank: 3 },
  U16: { size: 2, rank: 4 },
  F16: { size: 2, rank: 5 },
  BF16: { size: 2, rank: 6 },
  I32: { size: 4, rank: 7 },
  U32: { size: 4, rank: 8 },
  F32: { size: 4, rank: 9 },
  F64: { size: 8, rank: 10 },
  I64: { size: 8, rank: 11 },
  U64: { size: 8, rank: 12 },
} as const;

export type SafetensorsDtype = keyof typeof DTYPES;

/** dtypes the reference implementation knows but saekit does not read (sub-byte and FP8 floats). */
const UNSUPPORTED_DTYPES = new Set(["F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0"]);

/** The typed array that holds each dtype's stored values. F16/BF16 are raw 16-bit patterns. */
export interface SafetensorsArrayOf {
  BOOL: Uint8Array;
  U8: Uint8Array;
  I8: Int8Array;
  I16: Int16Array;
  U16: Uint16Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  F32: Float32Array;
  F64: Float64Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
}
export type SafetensorsArray = SafetensorsArrayOf[SafetensorsDtype];

type ArrayCtor = new (buffer: ArrayBuffer) => SafetensorsArray;
const STORAGE_ARRAY: Record<SafetensorsDtype, ArrayCtor & { prototype: SafetensorsArray }> = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(DTYPES, value);
}

/** Bytes per element of `dtype`. */
export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].size;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A malformed file or an invalid write request; the message names the file and the problem. */
export class SafetensorsError extends Error {
  readonly path: string;
  readonly tensor: string | undefined;
  constructor(path: string, problem: string, tensor?: string) {
    const where = tensor === undefined ? "" : `tensor ${JSON.stringify(tensor)}: `;
    super(`safetensors ${path}: ${where}${problem}`);
    this.name = "SafetensorsError";
    this.path = path;
    this.tensor = tensor;
  }
}

// ---------------------------------------------------------------------------------------------
// Byte order: the format is little-endian; typed arrays use the host's order.

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytesInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return;
  for (let i = 0; i < bytes.length; i += elementSize) {
    for (let a = i, b = i + elementSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** The little-endian bytes of `view`: a zero-copy view on little-endian hosts. */
function littleEndianBytes(view: SafetensorsArray | Float32Array): Uint8Array {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (LITTLE_ENDIAN_HOST) return bytes;
  const copy = bytes.slice();
  swapBytesInPlace(copy, view.BYTES_PER_ELEMENT);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// F16 / BF16 <-> F32 conversion (bit-exact, round-to-nearest-even)

/**
 * float32 bit pattern -> IEEE binary16 bit pattern, round-to-nearest-even.
 * Overflow rounds to ±Inf, tiny values to subnormals or ±0, NaN stays a (quiet) NaN keeping the
 * sign and the top payload bits (what x86 F16C and ARM conversions do).
 */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const halfExp = exp - 127 + 15;
  if (halfExp >= 0x1f) return sign | 0x7c00; // |x| >= 65536: Inf even before rounding
  if (halfExp <= 0) {
    // Result is subnormal (or zero): value = m * 2^-24 with m < 1024.
    if (halfExp < -10) return sign; // |x| < 2^-25: below half the smallest subnormal
    const full = mant | 0x800000; // restore the implicit leading bit
    const shift = 14 - halfExp;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let bits = (halfExp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits++; // a carry into exp 31 gives Inf: correct
  return sign | bits;
}

/** float32 bit pattern -> bfloat16 bit pattern (top 16 bits), round-to-nearest-even. */
function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x0040; // NaN: keep it a (quiet) NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** All 65536 F16 patterns as float32 bit patterns, built on first use (256 KiB). */
let f16ToF32BitsTable: Uint32Array | undefined;

function f16ToF32Table(): Uint32Array {
  if (f16ToF32BitsTable) return f16ToF32BitsTable;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let bits: number;
    if (exp === 0x1f) {
      bits = 0x7f800000 | (mant << 13); // Inf / NaN with its payload
    } else if (exp !== 0) {
      bits = ((exp - 15 + 127) << 23) | (mant << 13);
    } else if (mant === 0) {
      bits = 0;
    } else {
      // Subnormal half: normalize; every one is a normal float32.
      let e = -14;
      let m = mant;
      while ((m & 0x400) === 0) {
        m <<= 1;
        e--;
      }
      bits = ((e + 127) << 23) | ((m & 0x3ff) << 13);
    }
    table[h] = (sign | bits) >>> 0;
  }
  f16ToF32BitsTable = table;
  return table;
}

/** Scratch pair to move between a JS number (rounded to float32) and its bit pattern. */
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** `value` rounded to float32, then to an F16 bit pattern (round-to-nearest-even). */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]!);
}

/** `value` rounded to float32, then to a BF16 bit pattern (round-to-nearest-even). */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToBf16Bits(scratchU32[0]!);
}

/** The exact value of an F16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  scratchU32[0] = f16ToF32Table()[bits & 0xffff]!;
  return scratchF32[0]!;
}

/** The exact value of a BF16 bit pattern. */
export function bfloat16BitsToFloat32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

function float32Bits(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

function checkConversionTarget(src: Uint16Array, out: Float32Array): void {
  if (out.length < src.length) throw new RangeError(`16-bit → float32 conversion: output holds ${out.length} values, input ${src.length}`);
  if (out.buffer === src.buffer && out.byteOffset < src.byteOffset + src.byteLength && src.byteOffset < out.byteOffset + 4 * src.length) {
    throw new RangeError("16-bit → float32 conversion: output and input overlap");
  }
}

export function float32ArrayToFloat16Bits(src: Float32Array): Uint16Array {
  const bits = float32Bits(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < out.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  return out;
}

export function float32ArrayToBfloat16Bits(src: Float32Array): Uint16Array {
  const bits = float32Bits(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < out.length; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  return out;
}

/** F16 bit patterns → float32, into `out` when given (≥ src.length; must not share memory with src), else a new array. */
export function float16BitsToFloat32Array(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  checkConversionTarget(src, out);
  const table = f16ToF32Table();
  const outBits = float32Bits(out);
  for (let i = 0; i < src.length; i++) outBits[i] = table[src[i]!]!;
  return out;
}

/**
 * BF16 bit patterns → float32, into `out` when given (≥ src.length; must not share memory with src), else a new
 * array. The activation cache converts every chunk it reads into one reused buffer: a fresh 4 MB array per chunk
 * cost more in page faults and GC than the conversion itself.
 */
export function bfloat16BitsToFloat32Array(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  checkConversionTarget(src, out);
  const outBits = float32Bits(out);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i]! << 16;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** The reference implementation refuses headers above 100 MB; so do we (and we never write one). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) relative to the start of the data buffer, as written in the header. */
  readonly dataOffsets: readonly [number, number];
  /** Absolute file position of the tensor's first byte. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Readonly<Record<string, string>> | undefined;
  /** Sorted by data offset, i.e. in file order. */
  tensors: SafetensorsTensorInfo[];
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The first key that occurs twice in one JSON object of `json` (already known to be valid JSON),
 * with the keys of its enclosing objects (outermost first). JSON.parse silently keeps the last duplicate, so a file
 * with two entries for one tensor name would otherwise load without complaint.
 */
export function findDuplicateJsonKey(json: string): { key: string; parents: string[] } | undefined {
  interface Frame {
    keys: Set<string> | undefined; // undefined for arrays
    expectingKey: boolean;
    lastKey: string | undefined;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (json.charCodeAt(j) !== 0x22) {
        if (json.charCodeAt(j) === 0x5c /* \ */) {
          escaped = true;
          j++;
        }
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined && top.expectingKey) {
        // Decode escapes so "a" and "\u0061" count as the same key.
        const key = escaped ? (JSON.parse(json.slice(i, j + 1)) as string) : json.slice(i + 1, j);
        if (top.keys.has(key)) {
          const objects = stack.slice(0, -1).filter((f) => f.keys !== undefined);
          return { key, parents: objects.map((f) => f.lastKey ?? "") };
        }
        top.keys.add(key);
        top.lastKey = key;
        top.expectingKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), expectingKey: true, lastKey: undefined });
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: undefined, expectingKey: false, lastKey: undefined });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined) top.expectingKey = true;
    }
  }
  return undefined;
}

function parseMetadata(path: string, value: unknown): Readonly<Record<string, string>> | undefined {
  // The reference implementation reads `"__metadata__": null` as "no metadata"; so do we.
  if (value === null) return undefined;
  if (!isPlainObject(value)) {
    throw new SafetensorsError(path, `__metadata__ must be a map of string to string, got ${describeJson(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        path,
        `__metadata__ must be a map of string to string, but key ${JSON.stringify(key)} holds ${describeJson(v)}`,
      );
    }
  }
  return Object.freeze(value as Record<string, string>);
}

function nonNegativeIntegers(value: unknown, length?: number): value is number[] {
  return (
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((v) => Number.isSafeInteger(v) && v >= 0)
  );
}

/** Product of `shape`, or Infinity when it exceeds 2^53 (then it cannot match any real byte range). */
function elementCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

function parseTensorEntry(
  path: string,
  name: string,
  entry: unknown,
  dataStart: number,
  bufferLength: number,
): SafetensorsTensorInfo {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem, name);
  };
  if (!isPlainObject(entry)) {
    return fail(`header entry must be an object with dtype, shape and data_offsets, got ${describeJson(entry)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") return fail(`missing or invalid "dtype" (got ${describeJson(dtype)})`);
  if (UNSUPPORTED_DTYPES.has(dtype)) return fail(`dtype "${dtype}" is not supported by saekit`);
  if (!isSafetensorsDtype(dtype)) return fail(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) return fail(`missing or invalid "shape" (got ${describeJson(shape)})`);
  shape.forEach((d: unknown, i) => {
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      fail(`shape[${i}] is ${JSON.stringify(d)}, expected a non-negative integer`);
    }
  });
  if (!nonNegativeIntegers(offsets, 2)) {
    return fail(`missing or invalid "data_offsets" (expected [begin, end] non-negative integers, got ${JSON.stringify(offsets)})`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) return fail(`data_offsets end ${end} is before begin ${begin}`);
  if (end > bufferLength) {
    return fail(`data_offsets [${begin}, ${end}] are out of range of the ${bufferLength}-byte data buffer`);
  }
  const expected = elementCount(shape as number[]) * DTYPES[dtype].size;
  if (expected !== end - begin) {
    return fail(
      `shape [${shape.join(", ")}] of ${dtype} (${DTYPES[dtype].size} bytes each) needs ${expected} bytes, ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  return Object.freeze({
    name,
    dtype,
    shape: Object.freeze([...(shape as number[])]),
    dataOffsets: Object.freeze([begin, end] as [number, number]),
    fileOffset: dataStart + begin,
    byteLength: end - begin,
  });
}

/**
 * Validate a decoded header against a data buffer of `bufferLength` bytes starting at file
 * position `dataStart`. Exported for tools that read headers from elsewhere (e.g. HTTP ranges).
 */
export function parseSafetensorsHeader(
  path: string,
  json: string,
  dataStart: number,
  bufferLength: number,
): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new SafetensorsError(path, `header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError(path, `header must be a JSON object, got ${describeJson(parsed)}`);
  }
  const duplicate = findDuplicateJsonKey(json);
  if (duplicate !== undefined) {
    const [entry] = duplicate.parents;
    if (entry !== undefined) {
      throw new SafetensorsError(path, `duplicate key ${JSON.stringify(duplicate.key)} in its header entry`, entry);
    }
    throw new SafetensorsError(
      path,
      duplicate.key === "__metadata__"
        ? "header has more than one __metadata__ entry"
        : `duplicate tensor name ${JSON.stringify(duplicate.key)} in header`,
    );
  }

  let metadata: Readonly<Record<string, string>> | undefined;
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === "__metadata__") metadata = parseMetadata(path, entry);
    else tensors.push(parseTensorEntry(path, name, entry, dataStart, bufferLength));
  }

  // The ranges must tile the buffer: sorted by offset, each begins where the previous ended and
  // the last ends at the end of the file (empty tensors may sit at any boundary).
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin > covered) {
      throw new SafetensorsError(
        path,
        `gap in the data buffer: bytes [${covered}, ${begin}) are not covered by any tensor`,
        t.name,
      );
    }
    if (begin < covered && previous !== undefined) {
      throw new SafetensorsError(
        path,
        `data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(previous.name)} ` +
          `[${previous.dataOffsets[0]}, ${previous.dataOffsets[1]}]`,
        t.name,
      );
    }
    covered = end;
    previous = t;
  }
  if (covered !== bufferLength) {
    throw new SafetensorsError(
      path,
      `gap in the data buffer: the tensors cover ${covered} bytes but the buffer has ${bufferLength} ` +
        `(${bufferLength - covered} trailing bytes belong to no tensor)`,
    );
  }
  return { metadata, tensors };
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Largest single positional read; Node caps one read at about 2 GiB. */
const MAX_READ_BYTES = 1 << 30;

/** Fill `target` from file position `position`; a short file is an error naming `what`. */
function readFully(fd: number, target: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, Math.min(target.length - done, MAX_READ_BYTES), position + done);
    if (n === 0) {
      throw new SafetensorsError(path, `file ended after ${done} of the ${target.length} bytes of ${what}`);
    }
    done += n;
  }
}

export interface SafetensorsTensor<D extends SafetensorsDtype = SafetensorsDtype> {
  dtype: D;
  shape: number[];
  /** Stored values; F16/BF16 as raw bit patterns (see `readFloat32` for converted values). */
  data: SafetensorsArrayOf[D];
}

/**
 * An open safetensors file. Opening reads and validates only the header; `read*` calls read one
 * tensor each with positional reads. Call `close()` when done (synchronous API: loading weights
 * is a startup step, and positional reads need no stream bookkeeping).
 */
export class SafetensorsReader {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Header length N from the first 8 bytes (including padding). */
  readonly headerByteLength: number;
  /** File position of the data buffer (8 + N). */
  readonly dataStart: number;
  private readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  private fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    const fd = fs.openSync(path, "r");
    try {
      const fileSize = fs.fstatSync(fd).size;
      if (fileSize < 8) {
        throw new SafetensorsError(path, `file is ${fileSize} bytes, shorter than the 8-byte header length prefix`);
      }
      const prefix = new Uint8Array(8);
      readFully(fd, prefix, 0, path, "the header length prefix");
      const n = new DataView(prefix.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER_BYTES)) {
        throw new SafetensorsError(path, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
      }
      const headerLength = Number(n);
      if (8 + headerLength > fileSize) {
        throw new SafetensorsError(
          path,
          `header length ${headerLength} exceeds the file size (${fileSize} bytes, ${fileSize - 8} after the length prefix)`,
        );
      }
      const headerBytes = new Uint8Array(headerLength);
      readFully(fd, headerBytes, 8, path, "the header");
      let json: string;
      try {
        // fatal: reject invalid UTF-8; ignoreBOM: keep a BOM so JSON.parse rejects it, as serde does.
        json = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
      } catch {
        throw new SafetensorsError(path, "header is not valid UTF-8");
      }
      this.headerByteLength = headerLength;
      this.dataStart = 8 + headerLength;
      const header = parseSafetensorsHeader(path, json, this.dataStart, fileSize - this.dataStart);
      this.metadata = header.metadata;
      this.tensors = new Map(header.tensors.map((t) => [t.name, t]));
      this.fd = fd;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** Tensor names in file (data offset) order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) {
      const names = this.names();
      const listed = names.slice(0, 10).map((n) => JSON.stringify(n)).join(", ");
      throw new SafetensorsError(
        this.path,
        `no tensor named ${JSON.stringify(name)} (the file has ${names.length}: ${listed}${names.length > 10 ? ", ..." : ""})`,
      );
    }
    return info;
  }

  /** The stored values in the typed array of the stored dtype (F16/BF16 as raw bit patterns). */
  read(name: string): SafetensorsArray {
    const info = this.info(name);
    if (this.fd === undefined) throw new SafetensorsError(this.path, "reader is closed", name);
    // A fresh ArrayBuffer: aligned for any typed-array view whatever the tensor's file offset.
    const bytes = new Uint8Array(new ArrayBuffer(info.byteLength));
    readFully(this.fd, bytes, info.fileOffset, this.path, `tensor ${JSON.stringify(name)}`);
    if (!LITTLE_ENDIAN_HOST) swapBytesInPlace(bytes, DTYPES[info.dtype].size);
    return new STORAGE_ARRAY[info.dtype](bytes.buffer);
  }

  /** dtype, shape and stored values of one tensor. */
  tensor(name: string): SafetensorsTensor {
    const info = this.info(name);
    return { dtype: info.dtype, shape: [...info.shape], data: this.read(name) };
  }

  /**
   * The values as float32: F16/BF16 exactly; F64 and integers beyond 2^24 rounded to nearest
   * (like torch's `.float()`); BOOL as 0/1.
   */
  readFloat32(name: string): Float32Array {
    const dtype = this.info(name).dtype;
    const data = this.read(name);
    if (dtype === "F32") return data as Float32Array;
    if (dtype === "F16") return float16BitsToFloat32Array(data as Uint16Array);
    if (dtype === "BF16") return bfloat16BitsToFloat32Array(data as Uint16Array);
    const out = new Float32Array(data.length);
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
      for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!);
    } else {
      out.set(data);
    }
    return out;
  }

  /** An integer tensor as Int32Array; throws if a value does not fit in int32 or the dtype is a float. */
  readInt32(name: string): Int32Array {
    const dtype = this.info(name).dtype;
    if (dtype === "F16" || dtype === "BF16" || dtype === "F32" || dtype === "F64") {
      throw new SafetensorsError(this.path, `dtype ${dtype} is not an integer dtype`, name);
    }
    const data = this.read(name);
    if (data instanceof Int32Array) return data;
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < -0x80000000 || v > 0x7fffffff) {
        throw new SafetensorsError(this.path, `value ${v} at index ${i} does not fit in int32`, name);
      }
      out[i] = Number(v);
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Open and validate a safetensors file; tensors are read on demand. */
export function openSafetensors(path: string): SafetensorsReader {
  return new SafetensorsReader(path);
}

export interface LoadedSafetensors {
  metadata: Readonly<Record<string, string>> | undefined;
  /** In file order; each tensor as stored (pass to `saveSafetensors` to write it back unchanged). */
  tensors: Record<string, SafetensorsTensor>;
}

/** Read every tensor of a file (convenience for small files; large ones: `openSafetensors`). */
export function loadSafetensors(path: string): LoadedSafetensors {
  const reader = openSafetensors(path);
  try {
    // fromEntries defines own properties, so even a tensor named "__proto__" survives.
    const tensors = Object.fromEntries(reader.names().map((name) => [name, reader.tensor(name)]));
    return { metadata: reader.metadata, tensors };
  } finally {
    reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * A tensor to write. `data` is the stored dtype's typed array (see `SafetensorsArrayOf`, e.g.
 * Int32Array for I32, BigInt64Array for I64, raw bit patterns in a Uint16Array for F16/BF16), or a
 * Float32Array for F16/BF16, converted with round-to-nearest-even.
 */
export interface SafetensorsTensorToSave {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: SafetensorsArray | Float32Array;
}

export type SafetensorsTensorsToSave =
  | Readonly<Record<string, SafetensorsTensorToSave>>
  | ReadonlyMap<string, SafetensorsTensorToSave>;

/** Elements per written chunk of converted or byte-swapped data (bounded temporary memory). */
const CHUNK_ELEMENTS = 1 << 20;

interface PreparedTensor extends SafetensorsTensorToSave {
  name: string;
  begin: number;
  end: number;
}

function validateTensorToSave(path: string, name: string, t: SafetensorsTensorToSave): void {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem, name);
  };
  if (name === "__metadata__") fail(`"__metadata__" is reserved for the metadata map`);
  if (!isSafetensorsDtype(t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
  const convertsFloat32 = (t.dtype === "F16" || t.dtype === "BF16") && t.data instanceof Float32Array;
  const storage = STORAGE_ARRAY[t.dtype];
  if (!convertsFloat32 && !(t.data instanceof storage)) {
    const accepted = t.dtype === "F16" || t.dtype === "BF16" ? `Float32Array or ${storage.name}` : storage.name;
    fail(`dtype ${t.dtype} needs ${accepted} data, got ${t.data?.constructor?.name ?? typeof t.data}`);
  }
  t.shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) fail(`shape[${i}] is ${JSON.stringify(d)}, expected a non-negative integer`);
  });
  const n = elementCount(t.shape);
  if (n !== t.data.length) fail(`shape [${t.shape.join(", ")}] has ${n} elements but data has ${t.data.length}`);
}

function metadataJson(path: string, metadata: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new SafetensorsError(
        path,
        `metadata value for key ${JSON.stringify(key)} is ${describeJson(value)}; ` +
          "safetensors __metadata__ maps strings to strings (JSON.stringify structured values first)",
      );
    }
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * Order the tensors in the data buffer as the reference serializer does: by dtype in descending
 * enum order (8-byte types, then 4-, 2-, 1-byte ones), then by name (byte-wise UTF-8). With the
 * header padded to 8 bytes this keeps every tensor aligned to its element size in the file, and
 * makes our files byte-identical to `safetensors.numpy.save_file` for the same input (apart from
 * `__metadata__` key order, which the reference leaves to a hash map; we keep insertion order).
 */
function bufferOrder(entries: [string, SafetensorsTensorToSave][]): [string, SafetensorsTensorToSave][] {
  const keyed = entries.map((e) => ({ e, nameBytes: Buffer.from(e[0], "utf8") }));
  keyed.sort(
    (a, b) => DTYPES[b.e[1].dtype].rank - DTYPES[a.e[1].dtype].rank || Buffer.compare(a.nameBytes, b.nameBytes),
  );
  return keyed.map((k) => k.e);
}

/** Validate and lay out the file: the header bytes (length prefix included) and the tensors in buffer order. */
function prepareSafetensors(
  path: string,
  tensors: SafetensorsTensorsToSave,
  metadata: Readonly<Record<string, string>> | undefined,
): { head: Uint8Array; tensors: PreparedTensor[] } {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) validateTensorToSave(path, name, t);

  const prepared: PreparedTensor[] = [];
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${metadataJson(path, metadata)}`);
  let offset = 0;
  for (const [name, t] of bufferOrder(entries)) {
    const begin = offset;
    offset += t.data.length * DTYPES[t.dtype].size;
    prepared.push({ ...t, name, begin, end: offset });
    // Same field order and compact form as serde_json in the reference implementation.
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${begin},${offset}]}`,
    );
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padding = (8 - (json.length % 8)) % 8;
  const headerLength = json.length + padding;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(path, `header would be ${headerLength} bytes, above the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const head = Buffer.alloc(8 + headerLength, 0x20); // padding: spaces
  head.writeBigUInt64LE(BigInt(headerLength), 0);
  json.copy(head, 8);
  return { head, tensors: prepared };
}

function* tensorChunks(t: PreparedTensor): Generator<Uint8Array> {
  const data = t.data;
  for (let i = 0; i < data.length; i += CHUNK_ELEMENTS) {
    const part = data.subarray(i, i + CHUNK_ELEMENTS);
    if (part instanceof Float32Array && t.dtype === "F16") yield littleEndianBytes(float32ArrayToFloat16Bits(part));
    else if (part instanceof Float32Array && t.dtype === "BF16") yield littleEndianBytes(float32ArrayToBfloat16Bits(part));
    else yield littleEndianBytes(part);
  }
}

/**
 * The bytes of a safetensors file as a sequence of chunks (header first, then each tensor;
 * same-dtype data is passed through as views, not copied). Validation happens on the call, before
 * any chunk is produced. `label` names the destination in error messages.
 */
export function encodeSafetensors(
  tensors: SafetensorsTensorsToSave,
  metadata?: Readonly<Record<string, string>>,
  label = "<memory>",
): Iterable<Uint8Array> {
  const { head, tensors: prepared } = prepareSafetensors(label, tensors, metadata);
  return (function* () {
    yield head;
    for (const t of prepared) yield* tensorChunks(t);
  })();
}

/** Write a safetensors file atomically, streaming tensor data (synchronous). */
export function saveSafetensors(
  path: string,
  tensors: SafetensorsTensorsToSave,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeFileAtomicSync(path, encodeSafetensors(tensors, metadata, path));
}

/** As `saveSafetensors`, without blocking the event loop. Don't modify the tensors until it resolves. */
export async function saveSafetensorsAsync(
  path: string,
  tensors: SafetensorsTensorsToSave,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}
