import { ConfigError } from "./errors/index.js";

export interface ListenAddress {
  host: string;
  port: number;
}

const LISTEN_RE = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/;

/**
 * A listening address as the long-running commands take it: `host:port`, `[v6]:port`, `:port` or
 * a bare `port` (host 127.0.0.1, so nothing is exposed unless asked); port 0 picks a free one.
 * Anything else is a ConfigError naming the option, never a quiet fallback to some default port.
 */
export function parseListen(
  value: string,
  what = "listen address",
  defaultHost = "127.0.0.1",
): ListenAddress {
  const text = value.trim();
  const m = LISTEN_RE.exec(text);
  if (!m) {
    throw new ConfigError(
      `${what} "${value}" is not host:port (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080 or :8080)`,
    );
  }
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${what} "${value}": port ${port} is out of range (0-65535)`);
  return { host: m[1] ?? (m[2] || defaultHost), port };
}
