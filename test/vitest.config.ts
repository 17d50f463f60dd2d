import { defineConfig } from "vitest/config";

// End-to-end suites start real servers and clients; run files one at a time on a 2-core machine.
// `podkit-workspace` reaches workspace-only entries (e.g. @podkit/control-plane/testing); the rest are Vite's defaults.
const conditions = ["podkit-workspace", "module", "node", "development|production"];

export default defineConfig({
  ssr: { resolve: { conditions, externalConditions: ["podkit-workspace"] } },
  test: {
    include: ["**/*.e2e.test.ts"],
    // Runs against croc and runpodctl builds that a fresh clone does not have: `pnpm test:interop`.
    exclude: ["**/node_modules/**", "transfer-interop.e2e.test.ts", "transfer-direct.e2e.test.ts"],
    globalSetup: ["./temp-root.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
