import { describe, expect, it } from "vitest";
import { StepClock } from "../../src/analysis/step-clock.js";

/** A clock whose wall time (ms) and CPU time (µs) the test advances by hand. */
function fakeClock() {
  let ms = 1000;
  let cpuUs = 0;
  const clock = new StepClock(
    () => ms,
    (since) => ({ user: cpuUs - (since?.user ?? 0), system: 0 }),
  );
  return { clock, advance: (wallMs: number, cpuMs: number) => ((ms += wallMs), (cpuUs += cpuMs * 1000)) };
}

describe("StepClock", () => {
  it("records wall and CPU seconds per step, in order", () => {
    const { clock, advance } = fakeClock();
    advance(2500, 4000);
    clock.mark("pass1");
    advance(500, 250);
    clock.mark("pass2");
    expect(clock.steps).toEqual([
      { step: "pass1", wall: 2.5, cpu: 4 },
      { step: "pass2", wall: 0.5, cpu: 0.25 },
    ]);
  });

  it("sums named steps and the time since a step, leaving excluded steps out", () => {
    const { clock, advance } = fakeClock();
    for (const [name, ms] of [["a", 1000], ["b", 2000], ["related", 4000], ["atlas", 8000], ["write", 16000]] as const) {
      advance(ms, 0);
      clock.mark(name);
    }
    advance(32000, 0); // the running step
    expect(clock.wall("a", "b")).toBe(3);
    expect(clock.wall("missing")).toBe(0);
    expect(clock.running()).toBe(32);
    expect(clock.wallSince("related")).toBe(8 + 16 + 32);
    expect(clock.wallSince("related", ["atlas"])).toBe(16 + 32);
    expect(clock.wallSince("never")).toBe(1 + 2 + 4 + 8 + 16 + 32);
  });

  it("counts a step marked twice twice, and wallSince starts after its last mark", () => {
    const { clock, advance } = fakeClock();
    advance(1000, 0);
    clock.mark("x");
    advance(2000, 0);
    clock.mark("y");
    advance(4000, 0);
    clock.mark("x");
    expect(clock.wall("x")).toBe(5);
    expect(clock.wallSince("x")).toBe(0);
  });
});
