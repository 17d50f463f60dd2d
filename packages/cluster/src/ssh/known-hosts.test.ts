import { createHmac, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  hostMatches,
  knownHostsName,
  parseKnownHosts,
  sshFingerprint,
  verifyHostKey,
} from "./known-hosts.js";

/** An ssh-ed25519 public key blob: string "ssh-ed25519" + string key. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]);
}

const key = ed25519Blob();
const other = ed25519Blob();
const line = (host: string, k = key) => `${host} ssh-ed25519 ${k.toString("base64")}`;
const hashed = (name: string) => {
  const salt = Buffer.from("0123456789abcdefghij");
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};

describe("known_hosts", () => {
  it.each([
    ["10.0.0.2", "10.0.0.2", true],
    ["10.0.0.2,node-0", "node-0", true],
    ["[10.0.0.2]:2222", "[10.0.0.2]:2222", true],
    ["10.0.0.2", "[10.0.0.2]:2222", false],
    ["10.0.0.*", "10.0.0.9", true],
    ["10.0.0.*,!10.0.0.9", "10.0.0.9", false],
    [hashed("10.0.0.7"), "10.0.0.7", true],
    [hashed("10.0.0.7"), "10.0.0.8", false],
  ] as const)("%s matches %s: %s", (patterns, name, want) => {
    expect(hostMatches(patterns, name)).toBe(want);
  });

  it("names non-22 ports the OpenSSH way", () => {
    expect([knownHostsName("h", 22), knownHostsName("h", 2222)]).toEqual(["h", "[h]:2222"]);
  });

  it.each([
    { name: "a known key", known: [line("10.0.0.2")], opts: {}, ok: true, why: /./ },
    {
      name: "a pinned fingerprint",
      known: [],
      opts: { fingerprint: sshFingerprint(key) },
      ok: true,
      why: /./,
    },
    {
      name: "a changed key",
      known: [line("10.0.0.2", other)],
      opts: {},
      ok: false,
      why: /HOST KEY CHANGED for 10\.0\.0\.2/,
    },
    {
      name: "a wrong pinned fingerprint",
      known: [],
      opts: { fingerprint: sshFingerprint(other) },
      ok: false,
      why: /cluster file pins SHA256:/,
    },
    {
      name: "an unknown host without TOFU",
      known: [line("10.0.0.3")],
      opts: {},
      ok: false,
      why: /unknown host key for 10\.0\.0\.2 .*--accept-new-host-keys/,
    },
    { name: "an unknown host with TOFU", known: [], opts: { acceptNew: true }, ok: true, why: /./ },
    {
      name: "a changed key even with TOFU",
      known: [line("10.0.0.2", other)],
      opts: { acceptNew: true },
      ok: false,
      why: /HOST KEY CHANGED/,
    },
    { name: "a revoked key", known: [`@revoked ${line("10.0.0.2")}`], opts: {}, ok: false, why: /@revoked/ },
  ])("judges $name", ({ known, opts, ok, why }) => {
    const v = verifyHostKey({
      host: "10.0.0.2",
      port: 22,
      key,
      knownHosts: parseKnownHosts(`# comment\n\n${known.join("\n")}\n`),
      acceptNew: false,
      ...opts,
    });
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v.reason).toMatch(why);
  });

  it("prints fingerprints like ssh-keygen -l", () => {
    expect(sshFingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
