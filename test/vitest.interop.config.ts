import { defineConfig } from "vitest/config";

// The interop suite (`pnpm test:interop`): podkit against the real croc 9, croc 10 and runpodctl
// programs found in PODKIT_PEERS. Its 1 GiB and resume cases take minutes on a loaded machine.
export default defineConfig({
  test: {
    include: ["transfer-interop.e2e.test.ts", "transfer-direct.e2e.test.ts"],
    globalSetup: ["./temp-root.ts"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
