/** Backend selection through SAEKIT_BACKEND / SAEKIT_THREADS, on fresh module instances. */
import { afterEach, describe, expect, it, vi } from "vitest";

const saved = { backend: process.env.SAEKIT_BACKEND, threads: process.env.SAEKIT_THREADS };

afterEach(() => {
  for (const [key, value] of [["SAEKIT_BACKEND", saved.backend], ["SAEKIT_THREADS", saved.threads]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  vi.resetModules();
});

async function freshBackend() {
  vi.resetModules();
  return import("../../src/core/backend.js");
}

describe("backend selection", () => {
  it("SAEKIT_BACKEND=js selects the TypeScript kernels and says why", async () => {
    process.env.SAEKIT_BACKEND = "js";
    const b = await freshBackend();
    expect(b.kernels().name).toBe("js");
    expect(b.backendInfo()).toMatchObject({ name: "js", isa: "js", fallbackReason: "SAEKIT_BACKEND=js" });
  });

  it("a training record names the host's CPU and the addon's origin, never the addon's file path", async () => {
    const b = await freshBackend();
    const info = b.backendInfo();
    const record = b.backendRecord();
    const os = await import("node:os");
    expect(record.cpuModel).toBe(os.cpus()[0]!.model.trim());
    expect(record.cpus).toBe(os.cpus().length);
    expect(record.addon).toBe(info.addon.origin);
    expect(record.name).toBe(info.name);
    if ("path" in info.addon) expect(JSON.stringify(record)).not.toContain(info.addon.path);
    expect(JSON.stringify(record)).not.toMatch(/"\/(?:work|home|root|tmp|usr)\//);
  });

  it("float64 data always runs on the TS kernels", async () => {
    const b = await freshBackend();
    expect(b.kernelsFor(new Float64Array(1)).name).toBe("js");
    expect(b.kernelsFor(new Float32Array(1))).toBe(b.kernels());
  });

  it("rejects an unknown SAEKIT_BACKEND with a clear error", async () => {
    process.env.SAEKIT_BACKEND = "cuda";
    const b = await freshBackend();
    expect(() => b.kernels()).toThrow(/SAEKIT_BACKEND must be "native", "js" or "auto", got "cuda"/);
  });

  it("SAEKIT_THREADS sets the native pool size, and bad values are rejected", async () => {
    process.env.SAEKIT_THREADS = "1";
    const b = await freshBackend();
    const native = b.nativeKernels();
    if (native) {
      expect(native.threads).toBe(1);
      native.setThreads(2);
      expect(native.threads).toBe(2);
    }
    process.env.SAEKIT_THREADS = "zero";
    const c = await freshBackend();
    expect(() => c.nativeKernels()).toThrow(/SAEKIT_THREADS must be an integer between 1 and 256, got "zero"/);
  });

  it("the default picks the native addon when it is built", async () => {
    delete process.env.SAEKIT_BACKEND;
    const b = await freshBackend();
    const native = b.nativeKernels();
    expect(b.kernels().name).toBe(native ? "native" : "js");
  });
});
