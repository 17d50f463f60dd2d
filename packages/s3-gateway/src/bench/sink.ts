// The ceiling for any Node HTTP server: read a PUT body and throw it away (a bench baseline).
import { createServer } from "node:http";

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end());
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ endpoint: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` })}\n`,
  );
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
