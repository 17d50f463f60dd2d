// The least any Node.js server must do for a small object, a bench baseline: GET opens, fstats,
// reads and closes the file (callback node:fs, so each step is one thread-pool request) and
// answers with one res.end(buffer); PUT writes the body to a temporary beside the target, fsyncs
// it and renames it over the target. No auth, no XML, no metadata. With a workers argument above
// 1, that many processes share the port through node:cluster, as the gateway's workers do.
// Usage: node bare.js <root> [workers]; prints {"endpoint": …} once every worker listens.
import cluster from "node:cluster";
import { close, fstat, fsync, open, read, rename, unlink, writev } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";

const [root, workersArg] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);

function fail(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}

/** The file a URL names under the root; undefined for anything that climbs out of it. */
function pathOf(url: string): string | undefined {
  const segments = decodeURIComponent(url.split("?")[0]!).split("/").filter(Boolean);
  return segments.some((s) => s === "..") ? undefined : join(root!, ...segments);
}

function get(path: string, res: ServerResponse): void {
  open(path, "r", (err, fd) => {
    if (err) return fail(res, 404);
    const done = (status: number, body?: Buffer) =>
      close(fd, () => (body ? res.end(body) : fail(res, status)));
    fstat(fd, (err, stats) => {
      if (err || !stats.isFile()) return done(404);
      const buf = Buffer.allocUnsafe(stats.size);
      read(fd, buf, 0, stats.size, 0, (err, bytes) => {
        if (err || bytes !== stats.size) return done(500);
        res.setHeader("content-length", String(bytes));
        done(200, buf);
      });
    });
  });
}

let temporaries = 0;

function put(path: string, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const tmp = `${path}.${process.pid}-${temporaries++}.tmp`;
    const cleanUp = () => unlink(tmp, () => fail(res, 500));
    open(tmp, "wx", 0o644, (err, fd) => {
      if (err) return fail(res, 500);
      writev(fd, chunks, null, (err) => {
        if (err) return close(fd, cleanUp);
        fsync(fd, (err) => {
          close(fd, (closeErr) => {
            if (err || closeErr) return cleanUp();
            rename(tmp, path, (err) => (err ? cleanUp() : res.end()));
          });
        });
      });
    });
  });
}

function serve(): void {
  const server = createServer((req, res) => {
    const path = pathOf(req.url ?? "/");
    if (path === undefined) return fail(res, 400);
    if (req.method === "GET") return get(path, res);
    if (req.method === "PUT") return put(path, req, res);
    fail(res, 405);
  });
  // In a cluster worker, port 0 is the one port node:cluster shares among all the workers.
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    if (cluster.isWorker) process.send?.({ endpoint });
    else process.stdout.write(`${JSON.stringify({ endpoint })}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

if (cluster.isWorker || workers <= 1) {
  serve();
} else {
  const listening = Array.from(
    { length: workers },
    () =>
      new Promise<string>((resolve) => {
        cluster.fork().once("message", (msg: { endpoint: string }) => resolve(msg.endpoint));
      }),
  );
  const endpoints = await Promise.all(listening);
  process.stdout.write(`${JSON.stringify({ endpoint: endpoints[0] })}\n`);
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    process.exit(0);
  });
}
