/**
 * A zoomable, pannable scatter of many points on one 2-D canvas (the feature atlas: 20k+ points). Points are drawn
 * as small squares grouped by colour (one fillStyle change per colour, not per point), so a full redraw of 20k
 * points is a few milliseconds; redraws are batched to one per animation frame. Wheel zooms around the cursor,
 * dragging pans, hovering finds the nearest point within a few pixels (a linear scan: 20k distance checks per
 * mouse move is well under a millisecond), a click (not a drag) reports it.
 *
 * The canvas carries data-points-drawn (points inside the view at the last redraw), data-render-ms and
 * data-drawn-at (ms since navigation), so tests and the page can read what was drawn and when.
 */

export interface ScatterOptions {
  /** Point coordinates in data space. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS height of the canvas (its width follows the container). */
  height: number;
  onHover(index: number | null, clientX: number, clientY: number): void;
  onClick(index: number): void;
}

/** Pixels a pointer may move between press and release and still count as a click. */
const CLICK_SLOP = 4;
/** Hover radius in CSS pixels. */
const HOVER_RADIUS = 8;

export class AtlasScatter {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly n: number;
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  /** Colour index of each point and the palette; points are drawn colour by colour in `order`. */
  private colorIndex: Uint16Array;
  private palette: string[] = ["#888"];
  private order: Uint32Array;
  private highlighted: number | null = null;
  /** View: CSS px = (data − centre) · scale + half size. */
  private cx = 0;
  private cy = 0;
  private scale = 1;
  private fitScale = 1;
  private frame = 0;
  private width = 0;
  private readonly height: number;
  private readonly resizeObserver: ResizeObserver | null;

  constructor(private readonly options: ScatterOptions) {
    this.n = options.x.length;
    this.x = Float64Array.from(options.x);
    this.y = Float64Array.from(options.y);
    this.colorIndex = new Uint16Array(this.n);
    this.order = Uint32Array.from({ length: this.n }, (_, i) => i);
    this.height = options.height;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "atlas-canvas";
    this.canvas.style.height = `${this.height}px`;
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("data-points", String(this.n));
    this.ctx = this.canvas.getContext("2d", { alpha: false })!;
    this.installEvents();
    this.resizeObserver = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => this.resize());
    this.resizeObserver?.observe(this.canvas);
  }

  /** Colours: one palette index per point. Points of later palette entries are drawn on top. */
  setColors(colorIndex: Uint16Array, palette: string[]): void {
    this.colorIndex = colorIndex;
    this.palette = palette;
    const counts = new Uint32Array(palette.length + 1);
    for (let i = 0; i < this.n; i++) counts[colorIndex[i]! + 1]!++;
    for (let c = 1; c < counts.length; c++) counts[c]! += counts[c - 1]!;
    const order = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) order[counts[colorIndex[i]!]!++] = i;
    this.order = order;
    this.requestDraw();
  }

  highlight(index: number | null): void {
    if (index === this.highlighted) return;
    this.highlighted = index;
    this.requestDraw();
  }

  /** Fits every point into the view (zoom 1). */
  resetView(): void {
    this.resize(true);
  }

  /** Screen position (CSS px, relative to the canvas) of a point, for tests and tooltips. */
  screenOf(index: number): { x: number; y: number } {
    return { x: (this.x[index]! - this.cx) * this.scale + this.width / 2, y: (this.y[index]! - this.cy) * -this.scale + this.height / 2 };
  }

  get zoom(): number {
    return this.scale / this.fitScale;
  }

  /** Zooms by `factor` around a canvas point (CSS px). */
  zoomAt(factor: number, px: number, py: number): void {
    const next = Math.min(Math.max(this.scale * factor, this.fitScale * 0.5), this.fitScale * 2000);
    const [dx, dy] = this.toData(px, py);
    this.scale = next;
    // Keep the data point under the cursor where it was.
    this.cx = dx - (px - this.width / 2) / this.scale;
    this.cy = dy + (py - this.height / 2) / this.scale;
    this.requestDraw();
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private toData(px: number, py: number): [number, number] {
    return [(px - this.width / 2) / this.scale + this.cx, -(py - this.height / 2) / this.scale + this.cy];
  }

  private resize(refit = false): void {
    const w = this.canvas.clientWidth;
    if (w === 0) return;
    const first = this.width === 0;
    this.width = w;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    if (first || refit) {
      let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
      for (let i = 0; i < this.n; i++) {
        x0 = Math.min(x0, this.x[i]!);
        x1 = Math.max(x1, this.x[i]!);
        y0 = Math.min(y0, this.y[i]!);
        y1 = Math.max(y1, this.y[i]!);
      }
      if (this.n === 0) [x0, x1, y0, y1] = [-1, 1, -1, 1];
      this.cx = (x0 + x1) / 2;
      this.cy = (y0 + y1) / 2;
      const pad = 16;
      this.fitScale = Math.min((w - 2 * pad) / Math.max(x1 - x0, 1e-9), (this.height - 2 * pad) / Math.max(y1 - y0, 1e-9));
      this.scale = this.fitScale;
    }
    this.draw();
  }

  private requestDraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Redraws everything now. */
  draw(): void {
    if (this.width === 0) {
      this.resize();
      if (this.width === 0) return;
    }
    const t0 = performance.now();
    const ctx = this.ctx;
    const dpr = this.canvas.width / this.width;
    const bg = getComputedStyle(this.canvas).getPropertyValue("--panel").trim() || "#fff";
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    // Points grow a little as one zooms in, so a cluster separates into visible dots.
    const size = Math.min(7, 2.2 * Math.pow(this.zoom, 0.3)) * dpr;
    const half = size / 2;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const sx = this.scale * dpr;
    const ox = W / 2 - this.cx * sx;
    const oy = H / 2 + this.cy * sx;
    let drawn = 0;
    let current = -1;
    for (let k = 0; k < this.n; k++) {
      const i = this.order[k]!;
      const px = this.x[i]! * sx + ox;
      const py = -this.y[i]! * sx + oy;
      if (px < -size || py < -size || px > W + size || py > H + size) continue;
      const c = this.colorIndex[i]!;
      if (c !== current) {
        current = c;
        ctx.fillStyle = this.palette[c] ?? "#888";
      }
      ctx.fillRect(px - half, py - half, size, size);
      drawn++;
    }
    if (this.highlighted !== null && this.highlighted < this.n) {
      const i = this.highlighted;
      const px = this.x[i]! * sx + ox;
      const py = -this.y[i]! * sx + oy;
      ctx.lineWidth = 2 * dpr;
      ctx.strokeStyle = getComputedStyle(this.canvas).getPropertyValue("--text").trim() || "#000";
      ctx.beginPath();
      ctx.arc(px, py, size + 3 * dpr, 0, 2 * Math.PI);
      ctx.stroke();
    }
    this.canvas.setAttribute("data-points-drawn", String(drawn));
    this.canvas.setAttribute("data-render-ms", (performance.now() - t0).toFixed(1));
    // Milliseconds since the document's navigation started (the page-load figure of the atlas test).
    this.canvas.setAttribute("data-drawn-at", performance.now().toFixed(0));
    this.canvas.setAttribute("data-zoom", this.zoom.toFixed(3));
  }

  /** The nearest point within HOVER_RADIUS CSS px of a canvas position, or null. */
  pick(px: number, py: number): number | null {
    const r = HOVER_RADIUS / this.scale;
    const [dx, dy] = this.toData(px, py);
    let best: number | null = null;
    let bestD = r * r;
    for (let i = 0; i < this.n; i++) {
      const ex = this.x[i]! - dx;
      const ey = this.y[i]! - dy;
      const d = ex * ex + ey * ey;
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }

  private installEvents(): void {
    const c = this.canvas;
    let drag: { x: number; y: number; cx: number; cy: number; moved: boolean } | null = null;
    const local = (ev: MouseEvent) => {
      const rect = c.getBoundingClientRect();
      return [ev.clientX - rect.left, ev.clientY - rect.top] as const;
    };
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [px, py] = local(ev);
      this.zoomAt(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), px, py);
    }, { passive: false });
    c.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, cx: this.cx, cy: this.cy, moved: false };
      c.setPointerCapture?.(ev.pointerId);
    });
    c.addEventListener("pointermove", (ev) => {
      if (drag) {
        const mx = ev.clientX - drag.x;
        const my = ev.clientY - drag.y;
        if (Math.abs(mx) + Math.abs(my) > CLICK_SLOP) drag.moved = true;
        if (drag.moved) {
          this.cx = drag.cx - mx / this.scale;
          this.cy = drag.cy + my / this.scale;
          c.classList.add("dragging");
          this.options.onHover(null, ev.clientX, ev.clientY);
          this.requestDraw();
          return;
        }
      }
      const [px, py] = local(ev);
      const i = this.pick(px, py);
      this.highlight(i);
      c.style.cursor = i === null ? "grab" : "pointer";
      this.options.onHover(i, ev.clientX, ev.clientY);
    });
    c.addEventListener("pointerup", (ev) => {
      const d = drag;
      drag = null;
      c.classList.remove("dragging");
      if (!d || d.moved) return;
      const [px, py] = local(ev);
      const i = this.pick(px, py);
      if (i !== null) this.options.onClick(i);
    });
    c.addEventListener("pointerleave", () => {
      if (drag) return;
      this.highlight(null);
      this.options.onHover(null, 0, 0);
    });
    c.addEventListener("keydown", (ev) => {
      const step = 60;
      const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (ev.key === "+" || ev.key === "=") this.zoomAt(1.5, this.width / 2, this.height / 2);
      else if (ev.key === "-") this.zoomAt(1 / 1.5, this.width / 2, this.height / 2);
      else if (ev.key === "0") this.resetView();
      else if (moves[ev.key]) {
        this.cx += moves[ev.key]![0] / this.scale;
        this.cy -= moves[ev.key]![1] / this.scale;
        this.requestDraw();
      } else return;
      ev.preventDefault();
    });
  }
}
