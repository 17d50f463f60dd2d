import { setMaxListeners } from "node:events";
import type { Readable } from "node:stream";
import type { TransferEvent, TransferProtocol } from "@podkit/core";
import { type Generation, generateCode, relayIndexOf, roomPlan } from "../code/code.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { formatRelayAddress } from "../relay/client.js";
import type { RelayHandle } from "../relay/server.js";
import { chooseRelays, RUNPODCTL_RELAYS } from "../relays.js";
import { ControlChannel, isClosed, isDecryptError } from "../session/control.js";
import { openDataConnections } from "../session/data.js";
import { aborted, peerGone, TransferError, wrongCode } from "../session/errors.js";
import { claimDataConnections, ipsAnswer, localAddresses, startLocalRelay } from "../session/local.js";
import { senderAwaitHandshake } from "../session/probe.js";
import {
  awaitReceiver,
  type Joined,
  joinRooms,
  type RoomCandidate,
  roomCandidates,
} from "../session/rendezvous.js";
import { checkPaths, collectFiles, type Offer } from "./files.js";
import { SenderProtocol } from "./protocol.js";
import { sendFileChunks } from "./send-data.js";

export interface SendOptions {
  /** Files, folders, or `-` for stdin. */
  paths: readonly string[];
  /** Code phrase; default a fresh croc-style code (plus runpodctl's relay index without `relay`). */
  code?: string;
  /** `host:port` of the relay; default runpodctl's relays (generation A) and croc's (B). */
  relay?: string;
  relayPass?: string;
  protocol?: TransferProtocol;
  noCompress?: boolean;
  /** Zip folders (runpodctl's zip mode). */
  zip?: boolean;
  stdin?: Readable;
  signal?: AbortSignal;
  onEvent?: (event: TransferEvent) => void;
  /** How long set-up steps may wait for the receiver once it is there (default 30 s). */
  stepTimeoutMs?: number;
  /**
   * Also listen on this machine's own ports and offer them to the receiver (croc's local mode), so
   * machines that reach each other skip the relay; default true. runpodctl's mode (generation A on
   * runpodctl's relays) stays relay-only, as runpodctl itself is.
   */
  local?: boolean;
}

export interface SendResult {
  code: string;
  generation: Generation;
  files: number;
  bytes: number;
}

/** Data ports of the sender's own relay (croc's default relay has four). */
const LOCAL_DATA_PORTS = 4;

/** Picks the code: runpodctl appends the chosen relay's index when it uses its own relay list. */
function chooseCode(options: SendOptions): string {
  const base = options.code ?? generateCode();
  if (options.relay || options.protocol === "b" || relayIndexOf(base) !== null) return base;
  return `${base}-${Math.floor(Math.random() * RUNPODCTL_RELAYS.length)}`;
}

// Long: the sender's connection lifecycle (relay, PAKE, conversation, cleanup) in one try/finally.
export async function send(options: SendOptions): Promise<SendResult> {
  if (options.signal) setMaxListeners(100, options.signal);
  const emit = options.onEvent ?? (() => {});
  const stepTimeout = options.stepTimeoutMs ?? 30_000;
  // A missing path fails before any network work; the walk and hashing (seconds for big files) start
  // once the rooms are joined, so they do not slow the joining down, and run while the receiver is
  // awaited: it speaks first, and the file list is sent only after the PAKE.
  await checkPaths(options.paths);
  let collecting: Promise<Offer> | null = null;
  let joined: Joined[] = [];
  let localRelay: RelayHandle | null = null;
  try {
    const code = chooseCode(options);
    const relays = chooseRelays(code, { relay: options.relay, pass: options.relayPass });
    const candidates = roomCandidates(code, options.protocol ?? "auto", relays);
    const relayText = formatRelayAddress((candidates[0] as RoomCandidate).profile.relay);
    const flags = options.relay
      ? ` --relay ${options.relay}${options.relayPass ? " --relay-pass <pass>" : ""}`
      : "";
    // runpodctl's own relays mean runpodctl's mode: relay-only, like runpodctl. Without an address
    // other machines could reach there is nothing to offer.
    const direct =
      options.local === false || localAddresses().length === 0
        ? []
        : candidates.filter((c) => !(c.generation === "a" && relayIndexOf(code) !== null));
    if (direct.length > 0)
      localRelay = await startLocalRelay((direct[0] as RoomCandidate).profile.password, LOCAL_DATA_PORTS);
    const ips = ipsAnswer(localRelay ? (localRelay.ports[0] as number) : null);
    // Into the rooms first, and only then show the code: a croc 10 or runpodctl receiver that finds an
    // empty room reads the relay's keep-alive byte as the sender's answer and gives up. On our own
    // relay the rooms are claimed in-process: no connection and no handshake of our own there.
    joined = await joinRooms(candidates, options.signal);
    const claiming = new AbortController();
    const own = localRelay;
    const later = own
      ? direct.map(async (c): Promise<Joined> => {
          const conn = await own.claim(0, c.room, claiming.signal);
          const here = { host: "127.0.0.1", port: own.ports[0] as number };
          return {
            candidate: { ...c, profile: { ...c.profile, relay: here }, local: true },
            rc: { conn, dataPorts: own.ports.slice(1), externalAddress: conn.remoteAddress },
          };
        })
      : [];
    // Claims still waiting when a receiver is met (or the wait fails) end with an AbortError that
    // nobody needs: mark them handled so they cannot become unhandled rejections.
    for (const claim of later) claim.catch(() => undefined);
    const offering = collectFiles(options.paths, {
      zip: options.zip,
      noCompress: options.noCompress,
      stdin: options.stdin,
      signal: options.signal,
    });
    collecting = offering;
    emit({ type: "code", code, receiveCommand: `podkit receive ${code}${flags}`, relay: relayText });
    emit({ type: "waiting", relay: relayText });

    const met = await Promise.race([
      awaitReceiver(
        joined,
        (j, first) =>
          senderAwaitHandshake(
            j.rc.conn,
            first,
            roomPlan(code, j.candidate.generation as Generation).password,
            stepTimeout,
            j.candidate.local ? Buffer.from("null") : ips,
          ),
        options.signal,
        later,
      ).finally(() => claiming.abort()),
      offering.then(() => new Promise<never>(() => {})),
    ]);
    joined = [met];
    const offer = await offering;
    const generation = met.candidate.generation as Generation;
    const plan = roomPlan(code, generation);
    const control = met.rc.conn;
    const dataConns: FramedSocket[] = [];
    let finished = false;
    try {
      const peer = met.candidate.local ? "the receiver directly" : control.remoteAddress;
      emit({ type: "connected", generation, peer });
      const bytes = await converse({
        options,
        offer,
        channel: new ControlChannel(control),
        protocol: new SenderProtocol(plan.password, offer.info, met.rc.externalAddress),
        openData: async () => {
          // On our own relay the receiver's data connections are taken over in-process.
          const conns =
            met.candidate.local && localRelay
              ? await claimDataConnections(localRelay, plan, stepTimeout, options.signal)
              : await openDataConnections({
                  relay: met.candidate.profile.relay,
                  password: met.candidate.profile.password,
                  dataPorts: met.rc.dataPorts,
                  plan,
                  signal: options.signal,
                });
          // The transfer may already have failed (a wrong code is noticed while these are joining):
          // close late connections at once so nothing keeps the process alive.
          if (finished) for (const c of conns) c.close();
          dataConns.push(...conns);
          return conns;
        },
        emit,
      });
      return { code, generation, files: offer.files.length, bytes };
    } finally {
      finished = true;
      for (const c of dataConns) c.close();
    }
  } finally {
    for (const j of joined) j.rc.conn.close();
    await localRelay?.close();
    await collecting?.then(
      (offer) => offer.cleanup(),
      () => {},
    );
  }
}

/** Runs the message loop: executes the protocol's actions, sending files in the background. */
// Long: a protocol state machine kept in one place; its actions share the connection and transfer state.
async function converse(ctx: {
  options: SendOptions;
  offer: Offer;
  channel: ControlChannel;
  protocol: SenderProtocol;
  openData: () => Promise<FramedSocket[]>;
  emit: (event: TransferEvent) => void;
}): Promise<number> {
  const { channel, protocol, offer, emit, options } = ctx;
  const started = Date.now();
  let data: Promise<FramedSocket[]> | null = null;
  let sending: Promise<void> = Promise.resolve();
  let sentBytes = 0;
  const abort = new AbortController();
  const onAbort = (): void => {
    abort.abort();
    channel.close();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      let msg: Awaited<ReturnType<ControlChannel["receive"]>>;
      try {
        msg = await channel.receive();
      } catch (err) {
        if (options.signal?.aborted) throw aborted();
        if (isDecryptError(err)) throw wrongCode("sender");
        if (isClosed(err)) throw peerGone("receiver");
        throw err;
      }
      for (const action of protocol.handle(msg)) {
        switch (action.do) {
          case "send":
            await channel.send(action.msg, action.encrypt);
            break;
          case "set-key":
            channel.key = action.key;
            break;
          case "open-data":
            data = ctx.openData();
            data.catch(() => {});
            break;
          case "send-file": {
            const source = offer.files[action.index];
            if (!source?.path || !data || !channel.key) {
              throw new TransferError(
                "E_PROTOCOL",
                `receiver asked for data of "${source?.info.n ?? action.index}", which has none (a symlink)`,
              );
            }
            const conns = await data;
            const { n: name, s: size } = source.info;
            const resumed = action.offsets ? size - action.offsets.length * 32768 : 0;
            emit({ type: "file-start", name, size, resumedBytes: Math.max(0, resumed) });
            const fileStarted = Date.now();
            sending = sendFileChunks({
              path: source.path,
              size,
              offsets: action.offsets,
              conns,
              key: channel.key,
              compress: !offer.info.NoCompress,
              signal: abort.signal,
              onProgress: (bytes) => {
                const rate = bytes / Math.max(0.001, (Date.now() - fileStarted) / 1000);
                emit({ type: "progress", name, bytes, size, rate });
              },
            }).then(
              () => {
                sentBytes += size;
              },
              (err) => {
                channel.close();
                throw err;
              },
            );
            sending.catch(() => {});
            break;
          }
          case "file-done": {
            await sending;
            const file = offer.files[action.index];
            if (file) emit({ type: "file-done", name: file.info.n, size: file.info.s, skipped: false });
            break;
          }
          case "finished":
            await sending;
            emit({
              type: "done",
              files: offer.files.length,
              bytes: sentBytes,
              seconds: (Date.now() - started) / 1000,
            });
            return sentBytes;
        }
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    abort.abort();
  }
}
