import { defineConfig } from "vitest/config";

// The collection pacer (gc.ts) needs `gc`, which only a process started with --expose-gc has: the
// test workers start as the podkit launcher does.
export default defineConfig({
  test: { poolOptions: { forks: { execArgv: ["--expose-gc"] } } },
});
