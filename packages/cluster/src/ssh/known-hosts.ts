import { createHash, createHmac } from "node:crypto";

/** OpenSSH's fingerprint of a public key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The algorithm name at the start of an SSH public key blob ("ssh-ed25519", …). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString("latin1");
}

export interface KnownHostEntry {
  patterns: string;
  keyType: string;
  key: Buffer;
  revoked: boolean;
}

/** Parse known_hosts; `@cert-authority` lines are skipped (podkit pins host keys, not CAs). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith("@")) {
      if (fields[0] === "@revoked") revoked = true;
      else continue;
      fields = fields.slice(1);
    }
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) continue;
    entries.push({ patterns, keyType, key: Buffer.from(key, "base64"), revoked });
  }
  return entries;
}

/** How the host appears in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(name);
}

/** Does a known_hosts pattern list (plain, wildcard, negated or `|1|salt|hash` hashed) name this host? */
export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true; how: "known_hosts" | "fingerprint" | "accepted-new" }
  | { ok: false; reason: string; unknown: boolean };

/**
 * Decide whether to trust the key a server presented. A known key that differs is always refused
 * (possible man-in-the-middle); an unknown host is accepted only with `acceptNew` (TOFU).
 */
export function verifyHostKey(opts: {
  host: string;
  port: number;
  key: Buffer;
  knownHosts: KnownHostEntry[];
  fingerprint?: string | undefined;
  acceptNew: boolean;
}): HostKeyVerdict {
  const presented = sshFingerprint(opts.key);
  if (opts.fingerprint) {
    return presented === opts.fingerprint
      ? { ok: true, how: "fingerprint" }
      : {
          ok: false,
          unknown: false,
          reason: `host key of ${opts.host}:${opts.port} is ${presented}, but the cluster file pins ${opts.fingerprint}; refusing to connect (possible man-in-the-middle)`,
        };
  }
  const name = knownHostsName(opts.host, opts.port);
  const mine = opts.knownHosts.filter((e) => hostMatches(e.patterns, name));
  if (mine.some((e) => e.revoked && e.key.equals(opts.key))) {
    return {
      ok: false,
      unknown: false,
      reason: `host key ${presented} of ${name} is marked @revoked in known_hosts`,
    };
  }
  if (mine.some((e) => !e.revoked && e.key.equals(opts.key))) return { ok: true, how: "known_hosts" };
  if (mine.some((e) => !e.revoked && e.keyType === keyTypeOf(opts.key))) {
    return {
      ok: false,
      unknown: false,
      reason: `HOST KEY CHANGED for ${name}: it presented ${presented}, which is not the key in known_hosts; refusing to connect (if the machine was rebuilt, remove its old line from known_hosts)`,
    };
  }
  if (opts.acceptNew) return { ok: true, how: "accepted-new" };
  return {
    ok: false,
    unknown: true,
    reason: `unknown host key for ${name} (${keyTypeOf(opts.key)} ${presented}); add it to known_hosts, pin it with hostKeyFingerprint, or pass --accept-new-host-keys to trust it on first use`,
  };
}
