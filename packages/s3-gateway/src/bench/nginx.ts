import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** nginx-light serving `root` over loopback: the GET baseline (sendfile, `workers` processes). */
export async function startNginx(
  root: string,
  scratch: string,
  workers = 1,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const conf = join(scratch, "nginx.conf");
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
worker_processes ${workers};
pid ${join(scratch, `nginx-${port}.pid`)};
error_log ${join(scratch, "nginx-error.log")};
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${scratch};
  proxy_temp_path ${scratch};
  fastcgi_temp_path ${scratch};
  uwsgi_temp_path ${scratch};
  scgi_temp_path ${scratch};
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
  );
  const proc: ChildProcess = spawn("/usr/sbin/nginx", ["-c", conf, "-p", scratch], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error("nginx did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once("exit", () => resolve());
        proc.kill("SIGQUIT");
      }),
  };
}
