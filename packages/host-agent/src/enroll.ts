import { join } from "node:path";
import { AuthError, Backoff, type Logger, type MachineInfo, sleep, UnavailableError } from "@podkit/core";
import { z } from "zod";
import { readJsonFile, writeFileAtomic } from "./state-files.js";

export interface Credentials {
  hostId: string | null;
  hostToken: string;
  controlPlane: string;
}

/**
 * The host token to connect with: a `pkh_` token as given, a stored one from an earlier
 * enrolment, or a `pke_` enrolment token exchanged once (retrying while the control plane is
 * unreachable) and stored in `STATE_DIR/credentials.json` with mode 0600.
 */
export async function resolveHostToken(options: {
  controlPlane: string;
  token?: string;
  stateDir: string;
  machineInfo: MachineInfo;
  logger: Logger;
  attempts?: number;
  /** How long one enrolment request may take (default 30 s). */
  requestTimeoutMs?: number;
  /** Aborting stops the retries (the agent is stopping). */
  signal?: AbortSignal;
}): Promise<Credentials> {
  const file = join(options.stateDir, "credentials.json");
  const stored = readJsonFile<Credentials>(file);
  const { token } = options;
  if (token?.startsWith("pkh_")) {
    const creds = {
      hostId: stored?.hostToken === token ? stored.hostId : null,
      hostToken: token,
      controlPlane: options.controlPlane,
    };
    writeFileAtomic(file, JSON.stringify(creds), 0o600);
    return creds;
  }
  // An enrolment token is single-use: once traded, the stored host token is the identity. Without a
  // token, the stored one also serves a control plane that moved to another address.
  if (stored && stored.controlPlane === options.controlPlane && (!token || token.startsWith("pke_")))
    return stored;
  if (stored && !token) {
    const moved = { ...stored, controlPlane: options.controlPlane };
    writeFileAtomic(file, JSON.stringify(moved), 0o600);
    return moved;
  }
  if (!token) {
    throw new AuthError(
      `no host credentials in ${file} for ${options.controlPlane}: enrol with \`podkit agent run --control-plane ${options.controlPlane} --token pke_…\` (from \`podkit hosts enroll\`)`,
    );
  }
  if (!token.startsWith("pke_"))
    throw new AuthError("--token must be an enrolment token (pke_…) or a host token (pkh_…)");
  const url = new URL(
    "api/v1/agents/enroll",
    options.controlPlane.endsWith("/") ? options.controlPlane : `${options.controlPlane}/`,
  );
  const backoff = new Backoff(500, 30_000);
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt >= (options.attempts ?? Number.POSITIVE_INFINITY);
    stopIfAborted(options.signal);
    let res: Response;
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ enrollmentToken: token, machine: options.machineInfo }),
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      });
    } catch (err) {
      stopIfAborted(options.signal);
      const why =
        (err as Error).name === "TimeoutError"
          ? `no answer within ${timeoutMs / 1000} s`
          : (err as Error).message;
      if (lastAttempt)
        throw new UnavailableError(`cannot reach the control plane at ${url.origin} to enrol: ${why}`);
      await retryLater(backoff, options.logger, why, "control plane unreachable", options.signal);
      continue;
    }
    if (res.status === 401)
      throw new AuthError(
        "the enrolment token was refused (used, expired or unknown): create a new one with `podkit hosts enroll`",
      );
    // A server error leaves the token unspent (the enrolment is one transaction), so trying again is safe.
    if (res.status >= 500 && !lastAttempt) {
      await retryLater(
        backoff,
        options.logger,
        `HTTP ${res.status} ${await res.text()}`,
        "enrolment failed",
        options.signal,
      );
      continue;
    }
    if (!res.ok) throw new UnavailableError(`enrolment failed: HTTP ${res.status} ${await res.text()}`);
    const body = await enrolmentAnswer(res, url.origin);
    const creds = { hostId: body.hostId, hostToken: body.hostToken, controlPlane: options.controlPlane };
    writeFileAtomic(file, JSON.stringify(creds), 0o600);
    options.logger.info({ hostId: body.hostId }, "enrolled with the control plane");
    return creds;
  }
}

/** The control plane's answer, checked: a host id and a `pkh_` host token, nothing else is stored. */
const EnrolmentAnswerSchema = z.object({
  hostId: z.string().min(1),
  hostToken: z.string().startsWith("pkh_"),
});

async function enrolmentAnswer(
  res: Response,
  origin: string,
): Promise<z.infer<typeof EnrolmentAnswerSchema>> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = EnrolmentAnswerSchema.safeParse(json);
  if (!parsed.success)
    throw new UnavailableError(
      `enrolment failed: ${origin} answered HTTP ${res.status} without a host id and host token (is --control-plane the Podkit control plane?)`,
    );
  return parsed.data;
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new UnavailableError("enrolment stopped: the agent is stopping");
}

async function retryLater(
  backoff: Backoff,
  logger: Logger,
  reason: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const delay = backoff.next();
  logger.warn({ retryInMs: delay, err: reason }, `${what}; will retry enrolment`);
  await sleep(delay, signal);
  stopIfAborted(signal);
}
