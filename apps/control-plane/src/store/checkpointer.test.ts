import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { startCheckpointer } from "./checkpointer.js";

describe("the SQLite checkpoint thread", () => {
  it("hands its failure to the caller instead of stopping the process", async () => {
    const missing = join(tmpdir(), "podkit-no-such-dir", "control-plane.sqlite");
    const failed = new Promise<Error>((resolve) => {
      const checkpointer = startCheckpointer(missing, (err) => {
        void checkpointer.stop().then(() => resolve(err));
      });
    });
    expect((await failed).message).toMatch(/directory does not exist|unable to open/);
  });

  it("checkpoints the WAL while the main connection keeps writing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "podkit-checkpointer-"));
    const file = join(dir, "db.sqlite");
    const db = new SQLite(file);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.exec("create table t (x blob)");
    const errors: Error[] = [];
    const checkpointer = startCheckpointer(file, (err) => errors.push(err), 50);
    try {
      const insert = db.prepare("insert into t values (?)");
      for (let i = 0; i < 200; i++) insert.run(Buffer.alloc(4096));
      // Only a checkpoint copies pages from the WAL into the database file; this connection never does.
      const before = statSync(file).size;
      await expect.poll(() => statSync(file).size, { timeout: 5000 }).toBeGreaterThan(before + 100 * 4096);
      expect(errors).toEqual([]);
    } finally {
      await checkpointer.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
