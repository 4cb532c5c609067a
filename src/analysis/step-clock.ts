/**
 * One clock for `analyze`: wall and CPU seconds per step (AnalyzeResult.steps, what benchmarks print), and the
 * store's coarse `timing` stages summed from those same steps, so the two can never disagree.
 */

export interface StepTime {
  step: string;
  /** Wall seconds. */
  wall: number;
  /** This process' CPU seconds, all threads. */
  cpu: number;
}

export class StepClock {
  readonly steps: StepTime[] = [];
  private wall0: number;
  private cpu0: NodeJS.CpuUsage;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly cpuUsage: (since?: NodeJS.CpuUsage) => NodeJS.CpuUsage = (since) => process.cpuUsage(since),
  ) {
    this.wall0 = now();
    this.cpu0 = cpuUsage();
  }

  /** Ends the running step: everything since the previous mark (or the start) is `name`. */
  mark(name: string): void {
    const c = this.cpuUsage(this.cpu0);
    this.steps.push({ step: name, wall: (this.now() - this.wall0) / 1000, cpu: (c.user + c.system) / 1e6 });
    this.wall0 = this.now();
    this.cpu0 = this.cpuUsage();
  }

  /** Wall seconds of the running step so far (not yet marked). */
  running(): number {
    return (this.now() - this.wall0) / 1000;
  }

  /** Wall seconds of the named steps (a name marked twice counts twice). */
  wall(...names: string[]): number {
    let s = 0;
    for (const x of this.steps) if (names.includes(x.step)) s += x.wall;
    return s;
  }

  /**
   * Wall seconds after the last step called `name` (the steps marked since, except `exclude`, plus the running
   * one); every step when `name` was never marked.
   */
  wallSince(name: string, exclude: readonly string[] = []): number {
    let last = -1;
    this.steps.forEach((x, i) => {
      if (x.step === name) last = i;
    });
    let s = this.running();
    for (let i = last + 1; i < this.steps.length; i++) if (!exclude.includes(this.steps[i]!.step)) s += this.steps[i]!.wall;
    return s;
  }
}
