import { setMaxListeners } from "node:events";
import { mkdir, realpath } from "node:fs/promises";
import { resolve } from "node:path";
import type { TransferEvent, TransferProtocol } from "@podkit/core";
import { type Generation, relayIndexOf, roomPlan } from "../code/code.js";
import { deriveKey } from "../crypto/aead.js";
import { type FramedSocket, ReadTimeoutError } from "../framing/framed-socket.js";
import { Pake } from "../pake/pake.js";
import type { Message } from "../protocol/messages.js";
import { SenderInfoSchema } from "../protocol/schemas.js";
import { formatRelayAddress, type RelayAddress } from "../relay/client.js";
import { chooseRelays } from "../relays.js";
import { ControlChannel, isClosed, isDecryptError } from "../session/control.js";
import { openDataConnections } from "../session/data.js";
import {
  aborted,
  generationC,
  noPeer,
  peerError,
  peerGone,
  REFUSALS,
  TransferError,
  wrongCode,
} from "../session/errors.js";
import { joinDirect, parseIpsAnswer } from "../session/local.js";
import { receiverAskIps } from "../session/probe.js";
import { type Joined, receiverRendezvous, roomCandidates } from "../session/rendezvous.js";
import { type ReceiveOffer, receiveFiles } from "./files.js";
import { validateOffer } from "./safety.js";

export type { ReceiveOffer };

export interface ReceiveOptions {
  code: string;
  /** Destination folder (default the current directory). */
  out?: string;
  relay?: string;
  relayPass?: string;
  protocol?: TransferProtocol;
  /** Replace existing files whose content differs. */
  overwrite?: boolean;
  /** Asked once the offer is known; resolve false to refuse. Without it everything is accepted. */
  confirm?: (offer: ReceiveOffer) => Promise<boolean>;
  /**
   * Asked after `confirm` when files are already here with other content and `overwrite` is off;
   * resolve true to replace them. Without it (or false) such an offer is refused and nothing written.
   */
  confirmOverwrite?: (conflicts: string[]) => Promise<boolean>;
  /** PAKE curve to ask the sender for (croc's `--curve`), default p256. */
  curve?: string;
  signal?: AbortSignal;
  onEvent?: (event: TransferEvent) => void;
  /** How long to wait for a sender (default 60 s). */
  waitForSenderMs?: number;
  /** How long set-up steps may take once the sender is there (default 30 s). */
  stepTimeoutMs?: number;
  /**
   * Ask the sender for a direct path (croc's local mode) and use it when it answers within a second;
   * default true. Never for runpodctl codes (`-<relay index>`): runpodctl is relay-only.
   */
  local?: boolean;
}

/** How long the receiver tries the sender's own addresses before it stays on the relay. */
const DIRECT_TIMEOUT_MS = 1000;

export interface ReceiveResult {
  generation: Generation;
  files: string[];
  bytes: number;
}

// Long: the receiver's connection lifecycle (relay, PAKE, conversation, cleanup) in one try/finally.
export async function receive(options: ReceiveOptions): Promise<ReceiveResult> {
  // One transfer listens on the signal from many places (relay dials, file reads): not a leak.
  if (options.signal) setMaxListeners(100, options.signal);
  const emit = options.onEvent ?? (() => {});
  const waitMs = options.waitForSenderMs ?? 60_000;
  const stepMs = options.stepTimeoutMs ?? 30_000;
  const code = options.code.trim();
  const relays = chooseRelays(code, { relay: options.relay, pass: options.relayPass });
  const candidates = roomCandidates(code, options.protocol ?? "auto", relays, true);

  const met = await receiverRendezvous(candidates, waitMs, options.signal, (joined) => {
    // Until a sender turns up there is nothing else to show: say where and for how long we wait.
    const where = [...new Set(joined.map((j) => formatRelayAddress(j.candidate.profile.relay)))];
    emit({ type: "waiting", relay: where.join(" and "), seconds: Math.round(waitMs / 1000) });
  });
  if (met.candidate.generation === "c") {
    met.rc.conn.close();
    throw generationC();
  }
  const generation = met.candidate.generation;
  const plan = roomPlan(code, generation);
  const probe = (options.local ?? true) && !(generation === "a" && relayIndexOf(code) !== null);
  const path = probe
    ? await directPath(met, generation, plan.password, options, stepMs)
    : { conn: met.rc.conn, relay: met.candidate.profile.relay, dataPorts: met.rc.dataPorts, direct: false };
  const control = new ControlChannel(path.conn);
  const dataConns: FramedSocket[] = [];
  const onAbort = (): void => {
    control.close();
    for (const d of dataConns) d.close();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // The data rooms' names come from the code alone: joining them while the PAKE runs takes their
  // relay handshakes off the path to the first byte. Whatever happens below, they end up closed.
  const opening = openDataConnections({
    relay: path.relay,
    password: met.candidate.profile.password,
    dataPorts: path.dataPorts,
    plan,
    signal: options.signal,
  });
  opening.catch(() => {}); // its failure is reported where it is awaited, not as an unhandled rejection
  let dataOpened = false;
  try {
    await control.conn.write(Buffer.from("handshake"));
    const pake = new Pake(plan.password, 0, options.curve ?? "p256");
    await control.send(
      { type: "pake", bytes: pake.bytes(), bytes2: Buffer.from(options.curve ?? "p256") },
      false,
    );
    const reply = await step(control, waitMs, "pake", () => noPeer("sender", Math.round(waitMs / 1000)));
    if (reply.version !== undefined && reply.version >= 2) throw generationC();
    if (!reply.bytes || !reply.bytes2)
      throw new TransferError("E_PROTOCOL", "sender's pake reply is incomplete");
    pake.update(reply.bytes);
    control.key = deriveKey(pake.sessionKey, reply.bytes2);
    dataOpened = true;
    dataConns.push(...(await opening));
    await control.send({ type: "externalip", message: met.rc.externalAddress, bytes: reply.bytes });
    const ext = await step(control, stepMs, "externalip", () => wrongCode("receiver"));
    const peer = ext.message ?? control.conn.remoteAddress;
    emit({
      type: "connected",
      generation,
      peer: path.direct ? `${formatRelayAddress(path.relay)} directly` : peer,
    });
    const fileinfo = await step(control, stepMs, "fileinfo", () => wrongCode("receiver"));
    let raw: unknown;
    try {
      raw = JSON.parse(fileinfo.bytes?.toString("utf8") ?? "");
    } catch {
      throw new TransferError("E_PROTOCOL", "sender's file list is not JSON");
    }
    const parsed = SenderInfoSchema.safeParse(raw);
    if (!parsed.success) throw new TransferError("E_PROTOCOL", "sender's file list is malformed");
    const info = parsed.data;
    let checked: ReturnType<typeof validateOffer>;
    try {
      checked = validateOffer(info);
    } catch (err) {
      await control.send({ type: "error", message: REFUSALS.unsafe }).catch(() => {});
      throw err;
    }
    const out = resolve(options.out ?? ".");
    await mkdir(out, { recursive: true });
    const result = await receiveFiles({
      control,
      dataConns,
      info,
      planned: checked.files,
      emptyFolders: checked.emptyFolders,
      outReal: await realpath(out),
      generation,
      overwrite: options.overwrite ?? false,
      confirm: options.confirm,
      confirmOverwrite: options.confirmOverwrite,
      emit,
      signal: options.signal,
    });
    return { generation, ...result };
  } catch (err) {
    if (options.signal?.aborted) throw aborted();
    if (isClosed(err)) throw peerGone("sender");
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    control.close();
    for (const d of dataConns) d.close();
    if (!dataOpened)
      opening.then(
        (conns) => {
          for (const c of conns) c.close();
        },
        () => {},
      );
  }
}

/**
 * Asks the sender for its own addresses and joins its local relay when one answers in time; otherwise
 * stays in the public relay's room. Either way the returned connection is the control connection.
 */
async function directPath(
  met: Joined,
  generation: Generation,
  password: Buffer,
  options: ReceiveOptions,
  stepMs: number,
): Promise<{ conn: FramedSocket; relay: RelayAddress; dataPorts: number[]; direct: boolean }> {
  const viaRelay = {
    conn: met.rc.conn,
    relay: met.candidate.profile.relay,
    dataPorts: met.rc.dataPorts,
    direct: false,
  };
  let answer: Buffer;
  try {
    answer = await receiverAskIps(met.rc.conn, generation, password, options.curve ?? "p256", stepMs);
  } catch (err) {
    met.rc.conn.close();
    // A croc sender that cannot open our sealed `ips?` (another code) hangs up without a word.
    if (generation === "b" && isClosed(err)) throw wrongCode("receiver");
    if (isClosed(err)) throw peerGone("sender");
    throw err;
  }
  const offered = parseIpsAnswer(answer);
  if (!offered) return viaRelay;
  const direct = await joinDirect({
    port: offered.port,
    ips: offered.ips,
    password: met.candidate.profile.password,
    room: roomPlan(options.code.trim(), generation).controlRoom,
    timeoutMs: DIRECT_TIMEOUT_MS,
    signal: options.signal,
  });
  if (!direct) return viaRelay;
  met.rc.conn.close();
  return {
    conn: direct.rc.conn,
    relay: { host: direct.host, port: offered.port },
    dataPorts: direct.rc.dataPorts,
    direct: true,
  };
}

/** Reads the next control message, expecting `type`; maps set-up failures to clear errors. */
async function step(
  control: ControlChannel,
  timeoutMs: number,
  type: string,
  onGone: () => Error,
): Promise<Message> {
  let msg: Message;
  try {
    msg = await control.receive(timeoutMs);
  } catch (err) {
    if (isDecryptError(err)) throw wrongCode("receiver");
    if (isClosed(err) || err instanceof ReadTimeoutError) throw onGone();
    throw err;
  }
  if (msg.type === "error") throw peerError(msg.message ?? "unknown error");
  if (msg.type !== type)
    throw new TransferError("E_PROTOCOL", `expected "${type}" from the sender, got "${msg.type}"`);
  return msg;
}
