import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native addon + worker threads: forks isolate crashes in the addon from the runner.
    pool: "forks",
    // Exact fp32 products for the whole suite on every host (tests compare against fp32 references and the shipped
    // investigations); the bf16 tests select bf16 explicitly (setPrecision / withPrecision).
    env: { SAEKIT_PRECISION: "fp32" },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
