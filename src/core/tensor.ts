/**
 * A dense row-major tensor: a typed array plus a shape. Deliberately thin: all arithmetic lives in the kernels
 * (see kernels.ts); this class only owns shape bookkeeping so shape mistakes fail early with a clear message.
 *
 * float32 is the working precision; float64 exists so gradients can be checked by finite differences on the
 * pure-TS kernels (see backend.ts `kernelsFor`).
 */
import type { FloatArray } from "./kernels.js";

export type DType = "f32" | "f64";

export type Shape = readonly number[];

/** Number of elements of a shape (1 for the scalar shape []). */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throws `${op}: <what>` unless every dimension is a non-negative integer. */
export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${op}: invalid shape ${shapeToString(shape)} (dimensions must be non-negative integers)`);
    }
  }
}

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? "f64" : "f32";
}

export function allocate(size: number, dtype: DType): FloatArray {
  return dtype === "f64" ? new Float64Array(size) : new Float32Array(size);
}

export class Tensor {
  readonly data: FloatArray;
  readonly shape: Shape;

  /** Wraps `data` without copying; its length must equal the shape's size. */
  constructor(data: FloatArray, shape: Shape) {
    checkShape("Tensor", shape);
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new RangeError(
        `Tensor: data has ${data.length} elements but shape ${shapeToString(shape)} needs ${size}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  static zeros(shape: Shape, dtype: DType = "f32"): Tensor {
    checkShape("Tensor.zeros", shape);
    return new Tensor(allocate(shapeSize(shape), dtype), shape);
  }

  static full(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
    const t = Tensor.zeros(shape, dtype);
    t.data.fill(value);
    return t;
  }

  static scalar(value: number, dtype: DType = "f32"): Tensor {
    return Tensor.full([], value, dtype);
  }

  /**
   * A tensor over `data`. Typed arrays are wrapped without copying; plain number arrays are copied into a new
   * array of `dtype` (default f32). Throws when the element count does not match the shape.
   */
  static from(data: FloatArray | readonly number[], shape: Shape, dtype: DType = "f32"): Tensor {
    checkShape("Tensor.from", shape);
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new RangeError(
        `Tensor.from: got ${data.length} elements for shape ${shapeToString(shape)} (needs ${size})`,
      );
    }
    if (data instanceof Float32Array || data instanceof Float64Array) return new Tensor(data, shape);
    return new Tensor(dtype === "f64" ? Float64Array.from(data) : Float32Array.from(data), shape);
  }

  get size(): number {
    return this.data.length;
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Size of the last axis (1 for a scalar): the "columns" of the row-major matrix view. */
  get lastDim(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1]!;
  }

  /** A view with another shape over the same data. One dimension may be -1 (inferred). */
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, resolveReshape("reshape", this.shape, shape));
  }

  /** A deep copy (same dtype). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** A copy converted to another dtype (a copy even when the dtype is unchanged). */
  to(dtype: DType): Tensor {
    const out = allocate(this.size, dtype);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  /** The single value of a one-element tensor (e.g. a loss). */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: tensor of shape ${shapeToString(this.shape)} is not a scalar`);
    return this.data[0]!;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${shapeToString(this.shape)})`;
  }
}

/** Resolves a target shape (with at most one -1) against a source shape of the same size. */
export function resolveReshape(op: string, from: Shape, to: Shape): number[] {
  const size = shapeSize(from);
  const out = [...to];
  const inferred = out.indexOf(-1);
  if (inferred !== out.lastIndexOf(-1)) {
    throw new RangeError(`${op}: at most one dimension may be -1, got ${shapeToString(to)}`);
  }
  if (inferred >= 0) {
    const known = out.reduce((p, d, i) => (i === inferred ? p : p * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new RangeError(`${op}: cannot reshape ${shapeToString(from)} to ${shapeToString(to)}`);
    }
    out[inferred] = size / known;
  }
  checkShape(op, out);
  if (shapeSize(out) !== size) {
    throw new RangeError(
      `${op}: cannot reshape ${shapeToString(from)} (${size} elements) to ${shapeToString(to)} (${shapeSize(out)})`,
    );
  }
  return out;
}
