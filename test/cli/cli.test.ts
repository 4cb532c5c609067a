/** The `saekit` command: help, version and doctor, run in-process through the same entry point as the bin. */
import { describe, expect, it } from "vitest";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { doctorReport, formatDoctor } from "../../src/cli/doctor.js";
import { packageInfo } from "../../src/package-info.js";

const cli = captureCliOutput();



const run = runCli;

describe("saekit CLI", () => {
  it("--version prints the package version", async () => {
    await run("--version");
    expect(cli.text()).toContain(packageInfo().version);
    expect(packageInfo().version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("--help lists the doctor subcommand", async () => {
    await run("--help");
    const text = cli.text();
    expect(text).toContain("Usage: saekit");
    expect(text).toMatch(/doctor\s+.*kernel backend/);
  });

  it("an unknown subcommand fails with a non-zero exit code and a hint", async () => {
    await run("no-such-command");
    expect(process.exitCode).toBe(1);
    expect(cli.text()).toMatch(/unknown command 'no-such-command'/);
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
    const parsed = JSON.parse(cli.text()) as { backend: { name: string }; saekit: string };
    expect(parsed.saekit).toBe(packageInfo().version);
    expect(parsed.backend.name).toBe(report.backend.name);
  });
});
