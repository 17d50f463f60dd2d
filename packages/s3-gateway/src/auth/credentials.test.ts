import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CredentialStore, loadCredentials } from "./credentials.js";

const dir = mkdtempSync(join(tmpdir(), "podkit-creds-"));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe("credentials", () => {
  it("reads several key pairs, each limited to volumes, from TOML and JSON", () => {
    const toml = file(
      "keys.toml",
      `[[credentials]]\naccessKeyId = "team-a"\nsecretAccessKey = "secret-aaaa"\nvolumes = ["vol-a"]\n\n[[credentials]]\naccessKeyId = "admin"\nsecretAccessKey = "secret-bbbb"\n`,
    );
    const pairs = loadCredentials({ file: toml, env: {} });
    expect(pairs.map((p) => [p.accessKeyId, p.volumes])).toEqual([
      ["team-a", ["vol-a"]],
      ["admin", ["*"]],
    ]);
    const store = new CredentialStore(pairs);
    expect(CredentialStore.canAccess(store.lookup("team-a")!, "vol-a")).toBe(true);
    expect(CredentialStore.canAccess(store.lookup("team-a")!, "vol-b")).toBe(false);
    expect(CredentialStore.canAccess(store.lookup("admin")!, "vol-b")).toBe(true);
    const json = file(
      "keys.json",
      JSON.stringify({ credentials: [{ accessKeyId: "j-key", secretAccessKey: "secret-jjjj" }] }),
    );
    expect(loadCredentials({ file: json, env: {} })[0]?.accessKeyId).toBe("j-key");
  });

  it("adds the pair from PODKIT_S3_ACCESS_KEY / PODKIT_S3_SECRET_KEY", () => {
    const pairs = loadCredentials({
      env: { PODKIT_S3_ACCESS_KEY: "env-key", PODKIT_S3_SECRET_KEY: "env-secret-1" },
    });
    expect(pairs).toEqual([{ accessKeyId: "env-key", secretAccessKey: "env-secret-1", volumes: ["*"] }]);
    expect(() => loadCredentials({ env: { PODKIT_S3_ACCESS_KEY: "env-key" } })).toThrow(/both/);
  });

  it.each([
    ["broken.toml", "[[credentials]\n", /not valid TOML/],
    [
      "short.toml",
      `[[credentials]]\naccessKeyId = "k"\nsecretAccessKey = "x"\n`,
      /invalid S3 credentials file .*accessKeyId/,
    ],
    ["empty.json", `{"credentials": []}`, /credentials/],
  ])("explains what is wrong with %s", (name, text, message) => {
    expect(() => loadCredentials({ file: file(name, text), env: {} })).toThrow(message);
  });

  it("refuses to run with no key pair at all (no anonymous access)", () => {
    expect(() => new CredentialStore(loadCredentials({ env: {} }))).toThrow(
      /anonymous access is not offered/,
    );
    expect(() => loadCredentials({ file: join(dir, "missing.toml"), env: {} })).toThrow(/cannot read/);
  });
});
