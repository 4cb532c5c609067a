/**
 * A one-line progress display for long jobs (model training, SAE training, activation caching):
 *
 *   [########------------]  41%  step 410/1000  loss 4.213  lr 8.1e-4  52.3k tok/s  ETA 3m12s
 *
 * On a TTY the line is redrawn in place (at most every `redrawMs`); otherwise (logs, CI, pipes) a plain line is
 * printed every `intervalMs`, so log files stay readable. Messages printed with `log()` appear above the line.
 * Hand-written (about 100 lines): no progress-bar package is among saekit's dependencies, and this needs only
 * carriage returns and one ANSI "erase to end of line".
 */

/** What the display writes to (process.stderr by default). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Total amount of work, in `unit`s (e.g. tokens). */
  total: number;
  /** Unit of the rate, e.g. "tok" → "52.3k tok/s". */
  unit?: string;
  stream?: ProgressStream;
  /** Plain-line interval for non-TTY streams (default 10 s). */
  intervalMs?: number;
  /** Minimum time between in-place redraws on a TTY (default 100 ms). */
  redrawMs?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

const BAR_WIDTH = 20;

/** 52300 → "52.3k", 1.2e6 → "1.20M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return abs >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toPrecision(3);
}

/** Seconds as "45s", "3m12s", "2h05m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class ProgressLine {
  private readonly total: number;
  private readonly unit: string;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private startTime: number | undefined;
  private startDone = 0;
  private lastDraw = -Infinity;
  private lastLine = "";
  private drawn = false;

  constructor(options: ProgressOptions) {
    this.total = options.total;
    this.unit = options.unit ?? "";
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.redrawMs = options.redrawMs ?? 100;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Reports `done` units of work (cumulative) and extra fields ("step 4/10", "loss 3.2"). The rate counts only
   * work done since the first update, so a resumed job shows its own speed.
   */
  update(done: number, fields: readonly string[] = [], force = false): void {
    const t = this.now();
    if (this.startTime === undefined) {
      this.startTime = t;
      this.startDone = done;
    }
    this.lastLine = this.render(done, fields, t);
    const wait = this.tty ? this.redrawMs : this.intervalMs;
    if (!force && t - this.lastDraw < wait) return;
    this.lastDraw = t;
    this.draw();
  }

  /** Prints a message on its own line, above the progress line. */
  log(message: string): void {
    if (this.tty && this.drawn) this.stream.write("\r\x1b[K");
    this.stream.write(`${message}\n`);
    if (this.tty && this.drawn) this.stream.write(this.fit(this.lastLine));
  }

  /** Draws the last state once more and ends the line. */
  finish(): void {
    if (this.lastLine === "") return;
    if (this.tty) this.stream.write(`\r\x1b[K${this.fit(this.lastLine)}\n`);
    else this.stream.write(`${this.lastLine}\n`);
    this.drawn = false;
    this.lastLine = "";
  }

  private draw(): void {
    if (this.tty) {
      this.stream.write(`\r\x1b[K${this.fit(this.lastLine)}`);
      this.drawn = true;
    } else {
      this.stream.write(`${this.lastLine}\n`);
    }
  }

  private fit(line: string): string {
    const width = this.stream.columns;
    return width !== undefined && width > 1 && line.length >= width ? line.slice(0, width - 1) : line;
  }

  private render(done: number, fields: readonly string[], t: number): string {
    const fraction = this.total > 0 ? Math.min(1, Math.max(0, done / this.total)) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
    const seconds = (t - this.startTime!) / 1000;
    const rate = seconds > 0 ? (done - this.startDone) / seconds : NaN;
    const parts = [bar, `${(fraction * 100).toFixed(0).padStart(3)}%`, ...fields];
    if (Number.isFinite(rate) && rate > 0) {
      parts.push(`${formatCount(rate)} ${this.unit}/s`.replace(" /s", "/s"));
      parts.push(`ETA ${formatDuration((this.total - done) / rate)}`);
    }
    parts.push(`elapsed ${formatDuration(seconds)}`);
    return parts.join("  ");
  }
}
