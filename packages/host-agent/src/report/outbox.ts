import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AgentMessage } from "@podkit/core";
import { fsyncDir } from "../state-files.js";

/**
 * The durable outbox: every report is a file on disk before anyone tries to send it, and it is
 * deleted only when the control plane acknowledges its id. File names sort in enqueue order
 * (`<time>-<counter>-<id>.json`); each is written to `tmp/`, fsynced and renamed in, so a
 * crash leaves either a whole message or none. Several processes may enqueue (the daemon and
 * `podkit agent burn-test`): the sender rescans the directory.
 */
export class Outbox {
  readonly dir: string;
  private readonly tmpDir: string;
  private counter = 0;
  /** id → file name, for the messages this process knows about. */
  private index = new Map<string, string>();
  private readonly unlinking = new Set<string>();
  private readonly unlinkStarted = new Set<string>();
  private unlinkRunning = 0;
  private readonly unlinkWaiters: Array<() => void> = [];
  /** Files that could not be deleted (they will be sent again and acknowledged as duplicates). */
  readonly unlinkErrors: string[] = [];
  /** Files in send order; may hold entries already acked (skipped, compacted lazily). */
  private order: Array<{ name: string; id: string }> = [];
  /** Entries before this one are all acked: acks come mostly in order, so peeks start here. */
  private head = 0;
  private orderDirty = false;

  constructor(dir: string) {
    this.dir = dir;
    this.tmpDir = join(dir, "tmp");
    mkdirSync(this.tmpDir, { recursive: true });
    this.rescan();
  }

  /** Re-read the directory (messages other processes enqueued). */
  rescan(): void {
    const index = new Map<string, string>();
    for (const name of readdirSync(this.dir)) {
      const m = /^\d+-\d+-(.+)\.json$/.exec(name);
      if (m && !this.unlinking.has(name)) index.set(m[1]!, name);
    }
    this.index = index;
    this.orderDirty = true;
  }

  private sorted(): Array<{ name: string; id: string }> {
    if (this.orderDirty || this.order.length - this.head > 2 * this.index.size + 64) {
      this.order = [...this.index.entries()]
        .map(([id, name]) => ({ name, id }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      this.head = 0;
      this.orderDirty = false;
    }
    while (
      this.head < this.order.length &&
      this.index.get(this.order[this.head]!.id) !== this.order[this.head]!.name
    ) {
      this.head++;
    }
    return this.order;
  }

  get size(): number {
    return this.index.size;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Store a message durably. Enqueueing an id that is already waiting is a no-op (idempotent). */
  enqueue(message: AgentMessage, options: { sync?: boolean } = {}): void {
    if (this.index.has(message.id)) return;
    if (!/^[A-Za-z0-9_.:-]+$/.test(message.id))
      throw new Error(`message id ${JSON.stringify(message.id)} is not safe as a file name`);
    const name = `${String(Date.now()).padStart(15, "0")}-${String(process.pid * 1_000_000 + (this.counter++ % 1_000_000)).padStart(16, "0")}-${message.id}.json`;
    const tmp = join(this.tmpDir, name);
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(message));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
    if (options.sync !== false) fsyncDir(this.dir);
    this.index.set(message.id, name);
    this.orderDirty = true;
  }

  /** Store several messages with one directory fsync at the end (each file is still fsynced before its rename). */
  enqueueMany(messages: readonly AgentMessage[]): void {
    for (const m of messages) this.enqueue(m, { sync: false });
    fsyncDir(this.dir);
  }

  /** Waiting messages in enqueue order (at most `limit`). Unreadable files are skipped and reported. */
  peek(
    limit = Number.POSITIVE_INFINITY,
    skip: ReadonlySet<string> = new Set(),
  ): { messages: AgentMessage[]; unreadable: string[] } {
    const messages: AgentMessage[] = [];
    const unreadable: string[] = [];
    const order = this.sorted();
    for (let i = this.head; i < order.length; i++) {
      if (messages.length >= limit) break;
      const { name, id } = order[i]!;
      if (this.index.get(id) !== name || skip.has(id)) continue;
      try {
        messages.push(JSON.parse(readFileSync(join(this.dir, name), "utf8")) as AgentMessage);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        unreadable.push(name);
      }
    }
    return { messages, unreadable };
  }

  /**
   * Remove acknowledged messages. Unknown ids (already removed, or never ours) are ignored.
   * No directory fsync here: if a crash undoes an unlink, the message is sent again with the same
   * id and the control plane acknowledges it without storing it twice.
   */
  ack(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      const name = this.index.get(id);
      if (!name) continue;
      this.index.delete(id);
      this.unlinking.add(name);
      removed++;
    }
    if (removed > 0) this.pumpUnlinks();
    return removed;
  }

  /**
   * Deleting files is slow on a busy disk (journal contention), and nothing depends on it being
   * done at once: an acknowledged message is out of the index immediately and its file goes
   * in the background, several at a time, without blocking sends.
   */
  private pumpUnlinks(): void {
    for (const name of this.unlinking) {
      if (this.unlinkRunning >= 8) return;
      if (this.unlinkStarted.has(name)) continue;
      this.unlinkStarted.add(name);
      this.unlinkRunning++;
      unlink(join(this.dir, name))
        .catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") this.unlinkErrors.push(`${name}: ${err.message}`);
        })
        .finally(() => {
          this.unlinkRunning--;
          this.unlinking.delete(name);
          this.unlinkStarted.delete(name);
          if (this.unlinking.size === 0) for (const w of this.unlinkWaiters.splice(0)) w();
          else this.pumpUnlinks();
        });
    }
  }

  /** Resolves once every acknowledged message's file is gone (shutdown, tests). */
  flush(): Promise<void> {
    if (this.unlinking.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.unlinkWaiters.push(resolve));
  }

  /** Move a message the control plane refused (nack) aside, so it is kept for inspection but not resent forever. */
  reject(id: string): void {
    const name = this.index.get(id);
    if (!name) return;
    const rejected = join(this.dir, "rejected");
    mkdirSync(rejected, { recursive: true });
    renameSync(join(this.dir, name), join(rejected, name));
    this.index.delete(id);
    fsyncDir(this.dir);
  }
}
