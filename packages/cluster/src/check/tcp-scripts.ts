/**
 * The network pre-flight on the nodes: a throwaway listener on every node (and on
 * PRIMARY_ADDR:PRIMARY_PORT on the primary), then every node connects to the primary port and to its
 * peers' listeners, all at once. Python is used on the node because every training image has it; a
 * connect that answers proves it reached *our* listener (it sends a token), not some other service.
 */
import { shellQuote } from "../ssh/shell-quote.js";

export const PROBE_TOKEN = "podkit-probe";

/**
 * One Python process per node: listen, print READY, then read one line of probe targets from stdin,
 * connect to them all at once, print PROBE lines and DONE, and keep listening until stdin closes
 * (other nodes may still be probing this one). One process and one SSH session per node keep the
 * check cheap where many nodes share a host's CPUs.
 */
const NODE_PY = `
import socket, sys, threading, time
token = sys.argv[1].encode()
timeout = float(sys.argv[2])
socks = []
for spec in sys.argv[3:]:
    host, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, int(port)))
        s.listen(64)
    except OSError as e:
        print("BINDFAIL %s %s" % (spec, e.strerror or e), flush=True)
        continue
    print("LISTEN %s %d" % (spec, s.getsockname()[1]), flush=True)
    socks.append(s)
def serve(s):
    while True:
        try:
            c, _ = s.accept()
            c.sendall(token)
            c.close()
        except OSError:
            return
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("READY", flush=True)
out = {}
def probe(label, host, port):
    t0 = time.time()
    try:
        c = socket.create_connection((host, int(port)), timeout=timeout)
        data = c.recv(64)
        c.close()
        ms = (time.time() - t0) * 1000
        out[label] = ("OK %.0fms" % ms) if data == token else "FAIL answered, but not by the podkit listener (port used by another program?)"
    except socket.timeout:
        out[label] = "FAIL timed out after %gs (blocked by a firewall or the packets go nowhere)" % timeout
    except OSError as e:
        out[label] = "FAIL %s" % (e.strerror or e)
threads = []
for spec in sys.stdin.readline().split():
    label, host, port = spec.split("|")
    t = threading.Thread(target=probe, args=(label, host, port))
    t.start(); threads.append(t)
for t in threads: t.join()
for label in sorted(out): print("PROBE %s %s" % (label, out[label]))
print("DONE", flush=True)
sys.stdin.read()
`;

/**
 * A node's whole network check in one session: the route to the primary (a ROUTE line), then the
 * listener/prober above on every `addr:port` of `binds` (port 0 = ephemeral); 60 s at most.
 */
export function nodeCheckCommand(primary: string, binds: readonly string[], timeoutS = 3): string {
  return [
    `echo "ROUTE $(PATH=$PATH:/usr/sbin:/sbin ip -o route get ${shellQuote(primary)} 2>&1 | head -n1)"`,
    `command -v python3 >/dev/null || { echo "NOPYTHON"; exit 0; }`,
    // -S skips the site import: the script needs only the standard library.
    `exec timeout 60 python3 -S -c ${shellQuote(NODE_PY)} ${PROBE_TOKEN} ${timeoutS} ${binds.map(shellQuote).join(" ")}`,
  ].join("\n");
}

/** The line of targets a node's script reads on stdin. */
export function probeTargetsLine(
  targets: ReadonlyArray<{ label: string; host: string; port: number }>,
): string {
  return `${targets.map((t) => `${t.label}|${t.host}|${t.port}`).join(" ")}\n`;
}

/** The ROUTE line: the device the route to the primary leaves by, and the raw text for the evidence. */
export function parseRouteLine(text: string): { dev: string | undefined; raw: string } {
  const raw = /^ROUTE (.*)$/m.exec(text)?.[1]?.trim() ?? "";
  return { dev: /\bdev (\S+)/.exec(raw)?.[1], raw };
}

export interface ListenerStatus {
  ready: boolean;
  noPython: boolean;
  /** "addr:port" as asked → actual port. */
  listening: Map<string, number>;
  bindFailures: Map<string, string>;
}

export function parseListenerOutput(text: string): ListenerStatus {
  const status: ListenerStatus = {
    ready: false,
    noPython: false,
    listening: new Map(),
    bindFailures: new Map(),
  };
  for (const line of text.split("\n")) {
    if (line === "READY") status.ready = true;
    else if (line === "NOPYTHON") status.noPython = true;
    else if (line.startsWith("LISTEN ")) {
      const [, spec, port] = line.split(" ");
      status.listening.set(spec!, Number(port));
    } else if (line.startsWith("BINDFAIL ")) {
      const [, spec, ...why] = line.split(" ");
      status.bindFailures.set(spec!, why.join(" "));
    }
  }
  return status;
}

/** PROBE lines → label → "OK 3ms" | "FAIL why". */
export function parseProbeOutput(text: string): Map<string, string> {
  const results = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^PROBE (\S+) (.*)$/.exec(line);
    if (m) results.set(m[1]!, m[2]!);
  }
  return results;
}

/** Peers each node checks: all others up to 8 nodes, else the next 3 in rank order (O(N), not O(N²)). */
export function peersToProbe(rank: number, numNodes: number): number[] {
  if (numNodes <= 8) return [...Array(numNodes).keys()].filter((r) => r !== rank);
  return [1, 2, 3].map((d) => (rank + d) % numNodes);
}
