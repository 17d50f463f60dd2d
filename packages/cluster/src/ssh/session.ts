import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PodkitError } from "@podkit/core";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import {
  hostMatches,
  type KnownHostEntry,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
  verifyHostKey,
} from "./known-hosts.js";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identityFile?: string | undefined;
  hostKeyFingerprint?: string | undefined;
}

export interface SshTrust {
  /** Path of known_hosts (default ~/.ssh/known_hosts); new keys accepted with acceptNew are appended. */
  knownHostsFile?: string | undefined;
  acceptNew: boolean;
}

export interface ExecResult {
  code: number | null;
  signal?: string | undefined;
  /** Set when the command ended because the SSH connection was lost (no exit status came back). */
  lost?: string | undefined;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface RunningCommand {
  channel: ClientChannel;
  result: Promise<ExecResult>;
}

/** Why a connection failed, in words a user can act on. */
export class SshConnectError extends PodkitError<"E_SSH_CONNECT"> {
  constructor(
    message: string,
    readonly hostKeyProblem = false,
  ) {
    super("E_SSH_CONNECT", message);
  }
}

function readPrivateKey(target: SshTarget): Buffer | undefined {
  const candidates = target.identityFile
    ? [target.identityFile]
    : [join(homedir(), ".ssh", "id_ed25519"), join(homedir(), ".ssh", "id_rsa")];
  for (const file of candidates) {
    try {
      return readFileSync(file);
    } catch (err) {
      if (target.identityFile) {
        throw new SshConnectError(`cannot read the SSH key ${file}: ${(err as NodeJS.ErrnoException).code}`);
      }
    }
  }
  return undefined;
}

function loadKnownHosts(file: string): KnownHostEntry[] {
  return existsSync(file) ? parseKnownHosts(readFileSync(file, "utf8")) : [];
}

/** One verified SSH connection to a node (ssh2), with `exec` that collects or streams output. */
export class SshSession {
  /** Why the connection ended, once it has (set by ssh2's error/close events; undefined while alive). */
  lostReason: string | undefined;
  private closing = false;

  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
  ) {}

  /** Why the connection was lost, or undefined if it is alive or podkit closed it on purpose. */
  get lost(): string | undefined {
    return this.closing ? undefined : this.lostReason;
  }

  // Long: one ssh2 handshake whose callbacks (host key, auth, timeout) share a settle-once promise.
  static connect(target: SshTarget, trust: SshTrust, timeoutMs = 8000): Promise<SshSession> {
    // One function on purpose: ssh2's callbacks (host key check, ready, error, close) settle one promise
    // and share the refusal and settled flags.
    const knownHostsFile = trust.knownHostsFile ?? join(homedir(), ".ssh", "known_hosts");
    const known = loadKnownHosts(knownHostsFile);
    const privateKey = readPrivateKey(target);
    const client = new Client();
    let refusal: string | undefined;
    let settled = false;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: 5000,
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey({
          host: target.host,
          port: target.port,
          key,
          knownHosts: known,
          fingerprint: target.hostKeyFingerprint,
          acceptNew: trust.acceptNew,
        });
        if (!verdict.ok) {
          refusal = verdict.reason;
          return false;
        }
        if (verdict.how === "accepted-new") {
          const line = `${knownHostsName(target.host, target.port)} ${keyTypeOf(key)} ${key.toString("base64")}\n`;
          appendFileSync(knownHostsFile, line, { mode: 0o600 });
        }
        return true;
      },
    };
    // Ask for the key type known_hosts holds for this host, so an RSA+ed25519 host is checked against the right one.
    const name = knownHostsName(target.host, target.port);
    const heldTypes = known.filter((e) => !e.revoked && hostMatches(e.patterns, name)).map((e) => e.keyType);
    const types = heldTypes.filter((t) =>
      ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "ssh-rsa"].includes(t),
    );
    if (types.length > 0 && !target.hostKeyFingerprint) {
      const algos = types.flatMap((t) =>
        t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t],
      );
      config.algorithms = { serverHostKey: [...new Set(algos)] as never };
    }
    if (privateKey) config.privateKey = privateKey;
    else if (process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK;
    // ssh2 logs the server's host key algorithms during key exchange: the evidence when none matches known_hosts.
    let offered: string | undefined;
    config.debug = (line: string) => {
      const m = /^Handshake: \(remote\) Host key format: (.*)$/.exec(line);
      if (m) offered = m[1];
    };
    let tcpConnected = false;
    return new Promise((resolve, reject) => {
      let session: SshSession | undefined;
      const fail = (why: string, hostKeyProblem = false) => {
        client.end();
        reject(new SshConnectError(why, hostKeyProblem));
      };
      // `on`, not `once`: ssh2 can emit a second error (e.g. "Connection lost before handshake" after a
      // handshake timeout), and an error event without a listener would crash the whole process.
      client
        .on("connect", () => {
          tcpConnected = true;
        })
        .on("error", (err: Error & { level?: string }) => {
          if (session) {
            session.lostReason ??= err.message;
            return;
          }
          if (settled) return;
          settled = true;
          if (refusal) fail(refusal, true);
          else if (err.level === "client-authentication") {
            fail(`${target.user}@${name} refused our key (check ssh.identityFile and authorized_keys)`);
          } else if (/no matching host key format/.test(err.message)) {
            fail(
              `${name} offers host keys of type ${offered ?? "(unknown)"}, but known_hosts holds only ${[...new Set(heldTypes)].join(", ")} for it; add one of the offered keys to ${knownHostsFile} (ssh-keyscan -t ${(offered ?? "ed25519").split(",")[0]} -p ${target.port} ${target.host}) or pin hostKeyFingerprint`,
              true,
            );
          } else if (/Timed out while waiting for handshake/.test(err.message)) {
            fail(
              tcpConnected
                ? `cannot reach ${target.user}@${name}: the port accepted a TCP connection but sent no SSH greeting within ${Math.round(timeoutMs / 1000)} s (not an SSH server, or sshd is stuck)`
                : `cannot reach ${target.user}@${name}: no SSH answer within ${Math.round(timeoutMs / 1000)} s (machine down, wrong address or port, or a firewall)`,
            );
          } else fail(`cannot reach ${target.user}@${name}: ${err.message}`);
        })
        .on("close", () => {
          if (session) session.lostReason ??= "the connection closed";
          else if (!settled) {
            settled = true;
            fail(`cannot reach ${target.user}@${name}: the connection closed before the SSH handshake`);
          }
        })
        .once("ready", () => {
          settled = true;
          session = new SshSession(target, client);
          resolve(session);
        })
        .connect(config);
    });
  }

  /**
   * Start a command and keep its stdin open (listeners that run until told to stop); `result`
   * resolves when it exits, never rejecting for a non-zero exit.
   */
  start(command: string, opts: Omit<ExecOptions, "stdin" | "timeoutMs"> = {}): Promise<RunningCommand> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream: ClientChannel) => {
        if (err) {
          reject(new Error(`cannot start a command on ${this.target.host}: ${err.message}`));
          return;
        }
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        stream.on("data", (c: Buffer) => (opts.onStdout ? opts.onStdout(c) : out.push(c)));
        stream.stderr.on("data", (c: Buffer) => (opts.onStderr ? opts.onStderr(c) : errs.push(c)));
        const result = new Promise<ExecResult>((done) =>
          stream.on("close", (code: number | null | undefined, signal?: string) =>
            done({
              code: code ?? null,
              signal,
              lost: code == null && signal == null ? (this.lost ?? "no exit status came back") : undefined,
              stdout: Buffer.concat(out).toString("utf8"),
              stderr: Buffer.concat(errs).toString("utf8"),
            }),
          ),
        );
        resolve({ channel: stream, result });
      });
    });
  }

  /** Run a command; resolves with its exit code and output (never rejects for a non-zero exit). */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const running = await this.start(command, opts);
    if (opts.stdin !== undefined) running.channel.end(opts.stdin);
    else running.channel.end();
    if (!opts.timeoutMs) return running.result;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        running.channel.close();
        reject(
          new Error(`command timed out after ${Math.round(opts.timeoutMs! / 1000)} s on ${this.target.host}`),
        );
      }, opts.timeoutMs);
    });
    try {
      return await Promise.race([running.result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Upload bytes to a path on the node (SFTP), via a temporary name and a rename. */
  async writeFile(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
    const sftp = await new Promise<import("ssh2").SFTPWrapper>((resolve, reject) =>
      this.client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    const tmp = `${path}.podkit-tmp`;
    try {
      await new Promise<void>((resolve, reject) =>
        sftp.writeFile(tmp, data, { mode }, (err) => (err ? reject(err) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        sftp.ext_openssh_rename(tmp, path, (err) => (err ? reject(err) : resolve())),
      );
    } finally {
      sftp.end();
    }
  }

  close(): void {
    this.closing = true;
    this.client.end();
  }
}
