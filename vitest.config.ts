import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native addon + worker threads: forks isolate crashes in the addon from the runner.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
