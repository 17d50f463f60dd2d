// One side of a benchmark run, in its own process: the Podkit `relay [HOST]` (sender and receiver are the
// real `podkit` commands), or the raw-TCP baseline `tcp-sink PORTFILE OUT [HOST]` /
// `tcp-pipe PORTFILE TARGET` / `tcp-source FILE PORT [HOST]`.
import { createReadStream, createWriteStream, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { pipeline } from "node:stream/promises";
import { startRelay } from "../dist/index.js";

const [role, ...args] = process.argv.slice(2);

/** Reports this process's own CPU time and peak RSS on stderr when it ends (load-independent figures). */
function report() {
  const cpu = process.cpuUsage();
  process.stderr.write(
    `${JSON.stringify({ role, cpu: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}
process.on("exit", report);
if (role === "relay") {
  const relay = await startRelay({ host: args[0] ?? "127.0.0.1", ports: [0, 0, 0, 0, 0] });
  process.stdout.write(`${relay.address}\n`);
  process.on("SIGTERM", () => relay.close().then(() => process.exit(0)));
} else if (role === "tcp-sink") {
  const server = createServer((socket) => {
    pipeline(socket, createWriteStream(args[1])).then(() => process.exit(0));
  });
  server.listen(0, args[2] ?? "127.0.0.1", () => writeFileSync(args[0], String(server.address().port)));
} else if (role === "tcp-pipe") {
  const server = createServer((a) => {
    const b = connect(Number(args[1]), "127.0.0.1");
    a.pipe(b);
    b.pipe(a);
    b.on("close", () => process.exit(0));
  });
  server.listen(0, "127.0.0.1", () => writeFileSync(args[0], String(server.address().port)));
} else if (role === "tcp-source") {
  const socket = connect(Number(args[1]), args[2] ?? "127.0.0.1");
  await pipeline(createReadStream(args[0], { highWaterMark: 1024 * 1024 }), socket);
}
