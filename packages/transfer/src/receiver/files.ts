import { chmod, lstat, rename, rm, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TransferEvent } from "@podkit/core";
import type { Generation } from "../code/code.js";
import { offsetsToRanges } from "../crypto/chunks.js";
import { ArrivalXxhash, hashFile, normaliseHashAlgorithm } from "../crypto/hash.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import type { Message } from "../protocol/messages.js";
import type { SenderInfo } from "../protocol/schemas.js";
import type { ControlChannel } from "../session/control.js";
import { aborted, peerError, REFUSALS, TransferError } from "../session/errors.js";
import { existingState, makeDirInside, openPart, partPath, zeroChunkOffsets } from "./disk.js";
import type { PlannedFile } from "./safety.js";
import { FileSink, startDataLoops } from "./sink.js";
import { extractZip } from "./unzip.js";

/** What the sender offers, as `receive`'s `confirm` sees it before anything is written. */
export interface ReceiveOffer {
  files: Array<{ path: string; size: number; symlink?: string }>;
  emptyFolders: string[];
  totalBytes: number;
  /** Files already at the destination with other content (overwritten only with `overwrite`). */
  conflicts: string[];
}

interface Context {
  control: ControlChannel;
  dataConns: FramedSocket[];
  info: SenderInfo;
  planned: PlannedFile[];
  emptyFolders: string[];
  outReal: string;
  generation: Generation;
  overwrite: boolean;
  confirm?: (offer: ReceiveOffer) => Promise<boolean>;
  confirmOverwrite?: (conflicts: string[]) => Promise<boolean>;
  emit: (event: TransferEvent) => void;
  signal?: AbortSignal;
}

/** After `fileinfo`: ask, then fetch each file that is missing or different, verify it, finish. */
// Long: the receiver's per-file loop (ask, fetch, verify, finish) kept in one place.
export async function receiveFiles(ctx: Context): Promise<{ files: string[]; bytes: number }> {
  const { control, emit, planned, outReal, info } = ctx;
  const started = Date.now();
  const flavour = ctx.generation;
  const states = await Promise.all(
    planned.map(async (f) => ({
      file: f,
      dest: join(outReal, f.dir, f.name),
      state: await existingState(join(outReal, f.dir, f.name), f, info.HashAlgorithm, flavour),
    })),
  );
  const conflicts = states.filter((s) => s.state.kind === "different").map((s) => s.file.relPath);
  const offer: ReceiveOffer = {
    files: planned.map((f) => ({
      path: f.relPath,
      size: f.info.s,
      ...(f.symlink ? { symlink: f.symlink } : {}),
    })),
    emptyFolders: ctx.emptyFolders,
    totalBytes: planned.reduce((n, f) => n + (f.symlink ? 0 : f.info.s), 0),
    conflicts,
  };
  emit({
    type: "offer",
    files: offer.files.map((f) => ({
      name: f.path,
      size: f.size,
      ...(f.symlink ? { symlink: f.symlink } : {}),
    })),
    emptyFolders: offer.emptyFolders,
    totalBytes: offer.totalBytes,
  });
  const refuse = async (why: string, err: TransferError): Promise<never> => {
    await control.send({ type: "error", message: why }).catch(() => {});
    throw err;
  };
  if (ctx.confirm && !(await ctx.confirm(offer)))
    await refuse(
      REFUSALS.declined,
      new TransferError(
        "E_REFUSED",
        "transfer refused; nothing was written. Answer y at the prompt, or pass --yes to accept without being asked",
      ),
    );
  // Accepting the offer is not consent to replace files: like croc, that is asked on its own.
  const overwrite =
    ctx.overwrite || (conflicts.length > 0 && (await ctx.confirmOverwrite?.(conflicts)) === true);
  if (conflicts.length && !overwrite) {
    await refuse(
      REFUSALS.exists,
      new TransferError(
        "E_EXISTS",
        `${conflicts.map((c) => `"${c}"`).join(", ")} already exist with other content; nothing was written. ` +
          "Answer y when asked to replace them, or pass --overwrite",
      ),
    );
  }

  for (const dir of ctx.emptyFolders) await makeDirInside(outReal, dir);

  let current: FileSink | null = null;
  let dataError: Error | null = null;
  startDataLoops({
    conns: ctx.dataConns,
    key: control.key as Buffer,
    compressed: () => !info.NoCompress,
    sink: () => current,
    onError: (err) => {
      dataError ??= err;
      current?.fail(err);
    },
  });

  const received: string[] = [];
  let bytes = 0;
  for (const { file, state } of states) {
    if (ctx.signal?.aborted) throw aborted();
    const dirReal = await makeDirInside(outReal, file.dir);
    const dest = join(dirReal, file.name);
    if (state.kind === "same") {
      emit({ type: "file-done", name: file.relPath, size: file.info.s, skipped: true });
      continue;
    }
    if (file.symlink !== undefined || file.info.s === 0) {
      await rm(dest, { force: true });
      if (file.symlink !== undefined) await symlink(file.symlink, dest);
      else await writeFile(dest, "", { flag: "wx", mode: (file.info.md ?? 0o644) & 0o777 });
      received.push(file.relPath);
      emit({ type: "file-done", name: file.relPath, size: file.info.s, skipped: false });
      continue;
    }
    const n = await fetchFile(ctx, file, dest, (sink) => {
      current = sink;
      if (dataError) sink.fail(dataError);
    });
    current = null;
    bytes += n;
    received.push(file.relPath);
  }
  await control.send({ type: "finished" });
  await control.receive(5000).catch(() => null); // the sender's `finished`; nothing after it matters
  for (const file of planned.filter((f) => f.info.tf)) {
    await extractZip(join(outReal, file.dir, file.name), outReal, ctx.overwrite);
    await rm(join(outReal, file.dir, file.name), { force: true });
  }
  emit({ type: "done", files: received.length, bytes, seconds: (Date.now() - started) / 1000 });
  return { files: received, bytes };
}

/**
 * One file: resume from a same-size part file (request only its all-zero chunks) or start a fresh
 * one, wait for the bytes, verify the hash, then move it into place. A file that fails verification
 * is requested once more in full; a second failure is an error, never a loop.
 */
async function fetchFile(
  ctx: Context,
  file: PlannedFile,
  dest: string,
  setSink: (sink: FileSink) => void,
): Promise<number> {
  const { control, emit } = ctx;
  const size = file.info.s;
  const part = partPath(dest);
  const expected = file.info.h ? Buffer.from(file.info.h, "base64") : null;
  let resumeAllowed = true;
  for (let attempt = 0; attempt < 2; attempt++) {
    const st = await lstat(part).catch(() => null);
    let offsets: number[] | null = null;
    if (resumeAllowed && st?.isFile() && st.size === size) {
      offsets = await zeroChunkOffsets(part, size);
      if (offsets.length === 0 && expected && (await verify(ctx, part, expected))) {
        await finalize(file, part, dest);
        emit({ type: "file-done", name: file.relPath, size, skipped: false });
        return 0;
      }
      if (offsets.length === 0) offsets = null;
    }
    if (offsets === null) {
      await rm(part, { force: true });
      const h = await openPart(part);
      await h.close();
      await truncate(part, size);
    }
    const handle = await openPart(part);
    // A fresh download is hashed as it is written; a resumed one (and other algorithms) after it.
    const arrival =
      offsets === null && normaliseHashAlgorithm(ctx.info.HashAlgorithm) === "xxhash"
        ? new ArrivalXxhash(size)
        : null;
    try {
      const wanted = offsets === null ? size : offsets.length * 32768;
      emit({ type: "file-start", name: file.relPath, size, resumedBytes: Math.max(0, size - wanted) });
      const t0 = Date.now();
      const sink = new FileSink(
        handle,
        size,
        offsets === null ? null : offsets.length,
        (b) =>
          emit({
            type: "progress",
            name: file.relPath,
            bytes: size - wanted + b,
            size,
            rate: b / Math.max(0.001, (Date.now() - t0) / 1000),
          }),
        arrival,
      );
      setSink(sink);
      const request = {
        CurrentFileChunkRanges: offsets === null ? null : offsetsToRanges(offsets),
        FilesToTransferCurrentNum: file.index,
        MachineID: "",
      };
      await control.send({ type: "recipientready", bytes: Buffer.from(JSON.stringify(request)) });
      await receiveIntoSink(control, sink);
    } finally {
      await handle.close();
    }
    await control.send({ type: "close-sender" });
    await expectMessage(control, "close-recipient");
    const hashed = arrival?.digest() ?? null;
    if (!expected || (hashed ? hashed.equals(expected) : await verify(ctx, part, expected))) {
      await finalize(file, part, dest);
      emit({ type: "file-done", name: file.relPath, size, skipped: false });
      return size;
    }
    resumeAllowed = false;
  }
  throw new TransferError(
    "E_HASH",
    `"${file.relPath}" did not match the sender's hash even after a full re-send; the partial copy is kept as ${part}`,
  );
}

/** Waits for every byte of the file, then for it to be on disk. */
async function receiveIntoSink(control: ControlChannel, sink: FileSink): Promise<void> {
  await Promise.race([sink.done, watchControl(control, sink)]).catch(async (err: unknown) => {
    await sink.settle().catch(() => {}); // the transfer's own error is the one to report
    throw err;
  });
  await sink.settle(); // a failed background flush fails the file: the final sync may not see it
  await sink.handle.sync();
}

/** While data flows, the control channel may carry an error from the sender. */
async function watchControl(control: ControlChannel, sink: FileSink): Promise<void> {
  const msg = await Promise.race([control.receive(), sink.done.then(() => null)]).catch((err: Error) => {
    throw new TransferError(
      "E_PEER_GONE",
      `the sender disconnected mid-transfer (${err.message}); run both sides again with the same code to resume`,
    );
  });
  if (msg?.type === "error") throw peerError(msg.message ?? "unknown error");
}

async function expectMessage(control: ControlChannel, type: string): Promise<Message> {
  for (;;) {
    const msg = await control.receive(30_000);
    if (msg.type === type) return msg;
    if (msg.type === "error") throw peerError(msg.message ?? "unknown error");
  }
}

async function verify(ctx: Context, part: string, expected: Buffer): Promise<boolean> {
  const actual = await hashFile(part, ctx.info.HashAlgorithm, ctx.generation, ctx.signal);
  // A hash Podkit cannot compute (e.g. highway) is accepted after a full download rather than looping.
  return actual === null || actual.equals(expected);
}

async function finalize(file: PlannedFile, part: string, dest: string): Promise<void> {
  if (file.info.md !== undefined) await chmod(part, file.info.md & 0o777);
  const mtime = file.info.m ? Date.parse(file.info.m) : Number.NaN;
  if (Number.isFinite(mtime) && mtime > 0) await utimes(part, new Date(), new Date(mtime));
  await rename(part, dest);
}
