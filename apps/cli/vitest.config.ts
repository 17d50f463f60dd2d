import { defineConfig } from "vitest/config";

// The tests start the CLI (or import every command area) cold; on a busy 2-core machine that alone
// can take several seconds, past vitest's default of 5.
export default defineConfig({
  test: {
    testTimeout: 30_000,
  },
});
