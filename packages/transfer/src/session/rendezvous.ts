import { randomBytes } from "node:crypto";
import type { TransferProtocol } from "@podkit/core";
import { type Generation, roomC, roomPlan } from "../code/code.js";
import { ReadTimeoutError } from "../framing/framed-socket.js";
import { joinRelayRoom, type RelayConnection } from "../relay/client.js";
import type { RelayChoice, RelayProfile } from "../relays.js";
import { isClosed } from "./control.js";
import { aborted, noPeer } from "./errors.js";

/** A room to wait in: generation C rooms are only joined to recognise croc 11 peers. */
export interface RoomCandidate {
  generation: Generation | "c";
  profile: RelayProfile;
  room: string;
  /** The sender's own relay (a direct path), not the public one. */
  local?: boolean;
}

/**
 * Rooms to wait in for a protocol choice: B before A (the order a receiver prefers when both are
 * paired), plus croc 11's room when asked to watch for it.
 */
export function roomCandidates(
  code: string,
  protocol: TransferProtocol,
  relays: RelayChoice,
  watchC = false,
): RoomCandidate[] {
  const candidates: RoomCandidate[] = [];
  if (protocol !== "a")
    candidates.push({ generation: "b", profile: relays.b, room: roomPlan(code, "b").controlRoom });
  if (protocol !== "b")
    candidates.push({ generation: "a", profile: relays.a, room: roomPlan(code, "a").controlRoom });
  const c = watchC && protocol === "auto" ? roomC(code) : null;
  if (c) candidates.push({ generation: "c", profile: relays.b, room: c });
  return candidates;
}

export interface Joined {
  candidate: RoomCandidate;
  rc: RelayConnection;
}

async function joinCandidate(candidate: RoomCandidate, signal?: AbortSignal): Promise<Joined> {
  const { relay, password } = candidate.profile;
  return { candidate, rc: await joinRelayRoom({ relay, password, room: candidate.room, signal }) };
}

/** Joins every candidate room at once; fails only when none could be joined. */
export async function joinRooms(
  candidates: readonly RoomCandidate[],
  signal?: AbortSignal,
): Promise<Joined[]> {
  const settled = await Promise.allSettled(candidates.map((c) => joinCandidate(c, signal)));
  const joined = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  // The sender's own relay is reached only through what the public relay passes on (the receiver asks
  // there for its addresses), so without a public room nobody can ever find this sender.
  if (!joined.some((j) => !j.candidate.local)) {
    for (const j of joined) j.rc.conn.close();
    const failed = settled.find((s, i) => s.status === "rejected" && !candidates[i]?.local);
    throw (failed as PromiseRejectedResult).reason;
  }
  return joined;
}

/**
 * Sender, once in its rooms (`joinRooms`): the receiver speaks first, and `handshake` runs its
 * pre-handshake exchange (probes) on the room it spoke in. The first room whose exchange ends in
 * `handshake` wins and the others are left. A room the receiver leaves (it found a direct path, or chose
 * the other generation) is dropped quietly; a wrong code or a foreign protocol fails at once.
 */
export async function awaitReceiver(
  joined: readonly Joined[],
  handshake: (j: Joined, firstFrame: Buffer) => Promise<void>,
  signal?: AbortSignal,
  /** Rooms whose receiver connection is still to come (the sender's own relay hands it over). */
  later: ReadonlyArray<Promise<Joined>> = [],
): Promise<Joined> {
  const all = [...joined];
  const closeAll = (): void => {
    for (const j of all) j.rc.conn.close();
  };
  return await new Promise((resolve, reject) => {
    let open = joined.length;
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const onAbort = (): void =>
      finish(() => {
        closeAll();
        reject(aborted());
      });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const watch = (j: Joined): void => {
      j.rc.conn
        .read()
        .then((first) => handshake(j, first))
        .then(
          () =>
            finish(() => {
              for (const other of all) if (other !== j) other.rc.conn.close();
              resolve(j);
            }),
          (err: unknown) => {
            j.rc.conn.close();
            const gone = isClosed(err) || err instanceof ReadTimeoutError;
            if (!gone || --open === 0)
              finish(() => {
                closeAll();
                reject(err);
              });
          },
        );
    };
    for (const j of joined) watch(j);
    for (const pending of later)
      pending.then(
        (j) => {
          all.push(j);
          if (done) j.rc.conn.close();
          else {
            open++;
            watch(j);
          }
        },
        () => {},
      );
  });
}

/** How long a receiver waits before trusting silence when its relay gives no other evidence. */
export interface RendezvousTiming {
  /** A room that never got a ping counts as paired after this long. */
  aloneGraceMs: number;
  /** A room whose pings stopped this long ago counts as paired. */
  pingsStoppedMs: number;
}
const DEFAULT_TIMING: RendezvousTiming = { aloneGraceMs: 1500, pingsStoppedMs: 2500 };
const POLL_MS = 20;
/** The shortest silence that counts as paired when the relay is known to ping at once. */
const QUIET_MIN_MS = 50;
/**
 * A control room pinged this soon after the joins shows a relay that pings at once (a busy receiver
 * may read that ping late); relays that wait for their first interval ping after 1 s.
 */
const PROMPT_PING_MS = 500;

/**
 * Receiver: with one candidate, speak at once (as croc does). With several, join all and watch the
 * relay's keep-alive: a member that gets no ping shortly after joining was paired at once, and one
 * whose pings stop has just been joined by a sender. The first paired room wins, in candidate order.
 *
 * How long "shortly" is depends on the relay: croc's relay and Podkit's ping a member waiting alone
 * right after their "ok". So beside the candidates the receiver joins one room of its own (a random
 * name nobody else uses) on each of their relays; when that room has had its first ping, a candidate
 * on the same relay still silent a little later (half the time the joins took, at least
 * `QUIET_MIN_MS`) has a sender in it. A relay that pings later (or an unreachable control room) keeps
 * the `aloneGraceMs` wait. When the receiver came first, every room is pinged in step with the control
 * room until a sender joins one: the room that falls a ping behind is the sender's (within one ping
 * interval, where watching for the pings to stop takes `pingsStoppedMs`).
 */
export async function receiverRendezvous(
  candidates: readonly RoomCandidate[],
  waitMs: number,
  signal?: AbortSignal,
  /** Called once the rooms are joined, before waiting for the sender. */
  onJoined?: (joined: readonly Joined[]) => void,
  { aloneGraceMs, pingsStoppedMs }: RendezvousTiming = DEFAULT_TIMING,
): Promise<Joined> {
  const startedAt = Date.now();
  const controls = candidates.length > 1 ? joinControlRooms(candidates, signal) : Promise.resolve([]);
  const joined = await joinRooms(candidates, signal).catch(async (err: unknown) => {
    for (const c of await controls) c.rc.conn.close();
    throw err;
  });
  onJoined?.(joined);
  const control = await controls;
  if (joined.length === 1) {
    for (const c of control) c.rc.conn.close();
    return joined[0] as Joined;
  }
  const joinedAt = Date.now();
  const deadline = joinedAt + waitMs;
  // The relay writes an empty room's ping right behind its "ok", so it arrives within a round trip
  // of it at worst; joining took at least two.
  const quiet = Math.min(aloneGraceMs, Math.max(QUIET_MIN_MS, (joinedAt - startedAt) / 2));
  // Each candidate's control rooms (the one on its relay), found once rather than every poll.
  const twinsOf = new Map(joined.map((j) => [j, control.filter((o) => sameRelay(o, j))]));
  try {
    for (;;) {
      if (signal?.aborted) throw aborted();
      const now = Date.now();
      const paired = joined.find((j) => {
        const c = j.rc.conn;
        const twins = twinsOf.get(j) ?? [];
        if (c.pings === 0) {
          const prompt = twins.some((o) => pingedBy(o, joinedAt + PROMPT_PING_MS));
          return now - joinedAt >= (prompt ? quiet : aloneGraceMs);
        }
        if (now - c.lastPingAt >= pingsStoppedMs) return true;
        // Rooms joined together on one relay are pinged in step (give or take the gap between their
        // first pings): a room that falls a ping behind its control room has been joined by a sender.
        return twins.some((o) => {
          const t = o.rc.conn;
          return t.pings > c.pings && now - t.lastPingAt >= Math.abs(c.firstPingAt - t.firstPingAt) + quiet;
        });
      });
      if (paired) {
        for (const j of joined) if (j !== paired) j.rc.conn.close();
        return paired;
      }
      if (now > deadline) throw noPeer("sender", Math.round(waitMs / 1000));
      // Judged after the loop's I/O phase: a ping that arrived while the process was busy is read
      // before the timer's verdict, so a stalled process cannot mistake a pinged room for a quiet one.
      await new Promise((r) => setTimeout(() => setImmediate(r), POLL_MS));
    }
  } catch (err) {
    for (const j of joined) j.rc.conn.close();
    throw err;
  } finally {
    for (const c of control) c.rc.conn.close();
  }
}

/** One room with a random name on each relay of `candidates`; those that could not be joined are left out. */
async function joinControlRooms(
  candidates: readonly RoomCandidate[],
  signal?: AbortSignal,
): Promise<Joined[]> {
  const relays = new Map<string, RoomCandidate>();
  for (const c of candidates) {
    const { host, port } = c.profile.relay;
    relays.set(`${host}:${port}`, { ...c, room: randomBytes(32).toString("hex") });
  }
  const settled = await Promise.allSettled([...relays.values()].map((c) => joinCandidate(c, signal)));
  return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
}

function sameRelay(a: Joined, b: Joined): boolean {
  const x = a.candidate.profile.relay;
  const y = b.candidate.profile.relay;
  return x.host === y.host && x.port === y.port;
}

function pingedBy(j: Joined, by: number): boolean {
  const first = j.rc.conn.firstPingAt;
  return first > 0 && first <= by;
}
