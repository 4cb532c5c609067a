/** `saekit demo`'s tour starts from the feature run with a cross-model match (the shipped A/1), not the first by name (A/0). */
import { describe, expect, it } from "vitest";
import { demoRun } from "../../src/cli/demo.js";

const run = (name: string, kind: string, compare: string[] = []) => ({ name, kind, compare });

describe("demoRun", () => {
  it("picks the first feature run compared with another model's run", () => {
    const shipped = [run("A/0", "feature"), run("A/1", "feature", ["B/1"]), run("A/2", "feature"), run("A/neuron", "neuron"), run("B/1", "feature", ["A/1"])];
    expect(demoRun(shipped)?.name).toBe("A/1");
  });

  it("falls back to the first feature run, and to none without one", () => {
    expect(demoRun([run("A/neuron", "neuron"), run("A/0", "feature"), run("A/2", "feature")])?.name).toBe("A/0");
    expect(demoRun([run("A/neuron", "neuron")])).toBeUndefined();
  });
});
