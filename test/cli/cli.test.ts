/** The `saekit` command: help, version and doctor, run in-process through the same entry point as the bin. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { doctorReport, formatDoctor } from "../../src/cli/doctor.js";
import { packageInfo } from "../../src/cli/package-info.js";

let output: string[];

beforeEach(() => {
  output = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void output.push(args.join(" ") + "\n"));
  process.exitCode = undefined;
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const run = (...args: string[]) => main(["node", "saekit", ...args]);

describe("saekit CLI", () => {
  it("--version prints the package version", async () => {
    await run("--version");
    expect(output.join("")).toContain(packageInfo().version);
    expect(packageInfo().version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("--help lists the doctor subcommand", async () => {
    await run("--help");
    const text = output.join("");
    expect(text).toContain("Usage: saekit");
    expect(text).toMatch(/doctor\s+.*kernel backend/);
  });

  it("an unknown subcommand fails with a non-zero exit code and a hint", async () => {
    await run("no-such-command");
    expect(process.exitCode).toBe(1);
    expect(output.join("")).toMatch(/unknown command 'no-such-command'/);
  });

  it("doctor reports the active backend, CPU features and a passing self-check", async () => {
    const report = doctorReport();
    expect(["native", "js"]).toContain(report.backend.name);
    expect(report.backend.threads).toBeGreaterThanOrEqual(1);
    expect(report.selfCheck.maxAbsDiffVsTs).toBeLessThan(1e-3);
    expect(report.selfCheck.gemmGflops).toBeGreaterThan(0);
    if (report.backend.name === "native") expect(report.backend.cpuFeatures.length).toBeGreaterThan(0);
    else expect(report.backend.fallbackReason).toBeTruthy();
    const text = formatDoctor(report);
    expect(text).toContain(`backend:       ${report.backend.name}`);
    expect(text).toContain("self-check:");
    expect(text).toContain("OK");

    await run("doctor", "--json");
    const parsed = JSON.parse(output.join("")) as { backend: { name: string }; saekit: string };
    expect(parsed.saekit).toBe(packageInfo().version);
    expect(parsed.backend.name).toBe(report.backend.name);
  });
});
