/**
 * The TCP pre-flight: a throwaway listener on every node (and on PRIMARY_ADDR:PRIMARY_PORT on the
 * primary), then every node connects to the primary port and to its peers' listeners, all at once.
 * Python is used on the node because every training image has it; a connect that answers proves it
 * reached *our* listener (it sends a token), not some other service on the port.
 */
import { shellQuote } from "../ssh/shell-quote.js";

export const PROBE_TOKEN = "podkit-probe";

const LISTENER_PY = `
import socket, sys, threading
token = sys.argv[1].encode()
socks = []
for spec in sys.argv[2:]:
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
sys.stdin.read()
`;

const PROBE_PY = `
import socket, sys, time, threading
token = sys.argv[1].encode()
timeout = float(sys.argv[2])
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
for spec in sys.argv[3:]:
    label, host, port = spec.split("|")
    t = threading.Thread(target=probe, args=(label, host, port))
    t.start(); threads.append(t)
for t in threads: t.join()
for label in sorted(out): print("PROBE %s %s" % (label, out[label]))
`;

/** Listen on every `addr:port` (port 0 = ephemeral); stdin EOF (or 60 s) stops it. */
export function listenerCommand(binds: readonly string[]): string {
  const py = shellQuote(LISTENER_PY);
  return `command -v python3 >/dev/null || { echo "NOPYTHON"; exit 0; }; exec timeout 60 python3 -c ${py} ${PROBE_TOKEN} ${binds.map(shellQuote).join(" ")}`;
}

export function probeCommand(
  targets: ReadonlyArray<{ label: string; host: string; port: number }>,
  timeoutS = 3,
): string {
  const args = targets.map((t) => shellQuote(`${t.label}|${t.host}|${t.port}`)).join(" ");
  return `command -v python3 >/dev/null || { echo "NOPYTHON"; exit 0; }; python3 -c ${shellQuote(PROBE_PY)} ${PROBE_TOKEN} ${timeoutS} ${args}`;
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
