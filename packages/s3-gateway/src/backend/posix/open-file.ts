import { close, fdatasync, fstat, fsync, open, read, type Stats, write, writev } from "node:fs";

/**
 * An open file on the callback form of node:fs: each call is one thread-pool request settled
 * by one promise. `fs/promises`' FileHandle costs about three times the main-thread CPU for the
 * open/fstat/read/close of a small GET (promise-backed requests, a handle object with its own
 * close tracking); every call here still runs on libuv's thread pool, so a stalled network
 * volume blocks a pool thread, never the event loop.
 *
 * Unlike a FileHandle, a lost OpenFile is never closed by the garbage collector: whoever opens one
 * closes it on every path. `close()` closes once; afterwards every call fails with EBADF instead of
 * reaching whatever file the kernel has given the same descriptor number meanwhile.
 */
export class OpenFile {
  private closing: Promise<void> | undefined;

  private constructor(private readonly descriptor: number) {}

  static open(path: string, flags: number | string, mode?: number): Promise<OpenFile> {
    return new Promise((resolve, reject) => {
      open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(new OpenFile(fd))));
    });
  }

  /** The descriptor, for /proc/self/fd paths; fails once the file is closed. */
  get fd(): number {
    if (this.closing) throw closedError();
    return this.descriptor;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  stat(): Promise<Stats> {
    return this.call<Stats>((fd, done) => fstat(fd, done));
  }

  /** Bytes read into `buffer[offset…]` from `position` (0 at the end of the file). */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.call<number>((fd, done) => read(fd, buffer, offset, length, position, done));
  }

  /** Bytes written from `buffer[offset…]` at the file's current position. */
  write(buffer: Buffer, offset: number, length: number): Promise<number> {
    return this.call<number>((fd, done) => write(fd, buffer, offset, length, null, done));
  }

  /** Bytes written from `buffers` at the file's current position (possibly fewer than given). */
  writev(buffers: Buffer[]): Promise<number> {
    return this.call<number>((fd, done) => writev(fd, buffers, null, done));
  }

  sync(): Promise<void> {
    return this.call<void>((fd, done) => fsync(fd, (err) => done(err, undefined)));
  }

  datasync(): Promise<void> {
    return this.call<void>((fd, done) => fdatasync(fd, (err) => done(err, undefined)));
  }

  /** Close once; later calls return the same promise. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => {
      close(this.descriptor, (err) => (err ? reject(err) : resolve()));
    });
    return this.closing;
  }

  private call<T>(start: (fd: number, done: (err: NodeJS.ErrnoException | null, value: T) => void) => void) {
    return new Promise<T>((resolve, reject) => {
      if (this.closing) return reject(closedError());
      start(this.descriptor, (err, value) => (err ? reject(err) : resolve(value)));
    });
  }
}

function closedError(): NodeJS.ErrnoException {
  return Object.assign(new Error("EBADF: file already closed"), { code: "EBADF" });
}
