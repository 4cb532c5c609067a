/** Where the atlas page draws a point: the view fits the points' bounding box with 16 px padding, centred (atlas-canvas.ts resize()). */
import type { Locator } from "playwright-core";

/** The page position of point `index` of `coords` ([x0, y0, x1, y1, …], as stored; the view gets 5 significant digits). */
export async function atlasPointOnPage(canvas: Locator, coords: Float32Array, index: number): Promise<{ x: number; y: number }> {
  const box = (await canvas.boundingBox())!;
  const n = coords.length / 2;
  const xs = Array.from({ length: n }, (_, i) => Number(coords[2 * i]!.toPrecision(5)));
  const ys = Array.from({ length: n }, (_, i) => Number(coords[2 * i + 1]!.toPrecision(5)));
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xs[i]!);
    x1 = Math.max(x1, xs[i]!);
    y0 = Math.min(y0, ys[i]!);
    y1 = Math.max(y1, ys[i]!);
  }
  const scale = Math.min((box.width - 32) / (x1 - x0), (box.height - 32) / (y1 - y0));
  return { x: box.x + box.width / 2 + (xs[index]! - (x0 + x1) / 2) * scale, y: box.y + box.height / 2 - (ys[index]! - (y0 + y1) / 2) * scale };
}
