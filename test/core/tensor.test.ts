import { describe, expect, it } from "vitest";
import { resolveReshape, shapeSize, Tensor } from "../../src/core/tensor.js";

describe("Tensor", () => {
  it("zeros allocates the requested dtype and shape", () => {
    const a = Tensor.zeros([2, 3]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.dtype).toBe("f32");
    expect(a.size).toBe(6);
    expect([...a.data]).toEqual([0, 0, 0, 0, 0, 0]);
    const b = Tensor.zeros([4], "f64");
    expect(b.data).toBeInstanceOf(Float64Array);
    expect(b.dtype).toBe("f64");
    expect(Tensor.zeros([]).size).toBe(1);
    expect(Tensor.zeros([3, 0]).size).toBe(0);
  });

  it("from wraps typed arrays without copying and copies plain arrays into the dtype", () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.from(data, [3, 2]);
    expect(t.data).toBe(data);
    expect(t.dtype).toBe("f64");
    const u = Tensor.from([1.5, 2.5], [2], "f64");
    expect(u.data).toBeInstanceOf(Float64Array);
    expect([...u.data]).toEqual([1.5, 2.5]);
    expect(Tensor.from([1, 2], [2]).dtype).toBe("f32");
  });

  it("from rejects a size mismatch with a message naming the op and the shape", () => {
    expect(() => Tensor.from(new Float32Array(5), [2, 3])).toThrow(/Tensor\.from: got 5 elements for shape \[2, 3\] \(needs 6\)/);
    expect(() => Tensor.zeros([2, -1])).toThrow(/Tensor\.zeros: invalid shape \[2, -1\]/);
    expect(() => Tensor.zeros([1.5])).toThrow(/invalid shape/);
  });

  it("reshape is a view sharing data, with one inferred dimension", () => {
    const t = Tensor.from(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
    const r = t.reshape([3, -1]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.data).toBe(t.data);
    r.data[5] = 42;
    expect(t.data[5]).toBe(42);
    expect(t.reshape([6]).shape).toEqual([6]);
    expect(() => t.reshape([4, 2])).toThrow(/reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\] \(8\)/);
    expect(() => t.reshape([-1, -1])).toThrow(/at most one dimension may be -1/);
    expect(() => t.reshape([4, -1])).toThrow(/reshape: cannot reshape \[2, 3\] to \[4, -1\]/);
    expect(resolveReshape("x", [2, 3, 4], [-1, 4])).toEqual([6, 4]);
  });

  it("clone copies; to converts dtype; item reads scalars", () => {
    const t = Tensor.from(new Float32Array([1, 2]), [2]);
    const c = t.clone();
    c.data[0] = 9;
    expect(t.data[0]).toBe(1);
    expect(c.shape).toEqual([2]);
    const d = t.to("f64");
    expect(d.dtype).toBe("f64");
    expect([...d.data]).toEqual([1, 2]);
    expect(Tensor.scalar(3.5, "f64").item()).toBe(3.5);
    expect(() => t.item()).toThrow(/item: tensor of shape \[2\] is not a scalar/);
    expect(Tensor.full([2, 2], 7).data.every((x) => x === 7)).toBe(true);
  });

  it("shape is frozen and the helpers agree", () => {
    const t = Tensor.zeros([2, 5]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(t.lastDim).toBe(5);
    expect(t.ndim).toBe(2);
    expect(shapeSize([2, 3, 4])).toBe(24);
    expect(String(t)).toBe("Tensor(f32, [2, 5])");
  });
});
