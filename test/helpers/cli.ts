/** Running the `saekit` CLI in-process from tests, with everything it prints captured. */
import { afterEach, beforeEach, vi } from "vitest";
import { main } from "../../src/cli/main.js";

/**
 * Captures stdout, stderr and console output of each test in the calling file (cleared before each test) and
 * resets process.exitCode around it. Call once at the top level of a test file.
 */
export function captureCliOutput(): { text(): string; clear(): void } {
  const chunks: string[] = [];
  beforeEach(() => {
    chunks.length = 0;
    const write = (chunk: string | Uint8Array) => (chunks.push(String(chunk)), true);
    vi.spyOn(process.stdout, "write").mockImplementation(write);
    vi.spyOn(process.stderr, "write").mockImplementation(write);
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void chunks.push(`${a.join(" ")}\n`));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void chunks.push(`${a.join(" ")}\n`));
    process.exitCode = undefined;
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
  return { text: () => chunks.join(""), clear: () => void (chunks.length = 0) };
}

/** `saekit ARGS…` in this process. */
export const runCli = (...args: string[]) => main(["node", "saekit", ...args]);
