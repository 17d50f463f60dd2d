import { ConfigError } from "@podkit/core";

const WS_PATH = /\/api\/v1\/agent\/ws\/?$/;
const HTTP_FOR: Record<string, string> = {
  "http:": "http:",
  "https:": "https:",
  "ws:": "http:",
  "wss:": "https:",
};

/**
 * The control plane's base URL as the agent uses it (HTTP for enrolment, the same host for the
 * WebSocket). `ws://` and `wss://` name the same control plane as `http://` and `https://` (with or
 * without the agent socket's path); any other scheme is refused at start rather than retried for ever.
 * An http(s) URL comes back unchanged, so stored credentials still match it.
 */
export function controlPlaneBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ConfigError(`--control-plane ${input} is not a URL: give e.g. https://podkit.example.com`);
  }
  const protocol = HTTP_FOR[url.protocol];
  if (!protocol)
    throw new ConfigError(
      `--control-plane ${input}: the control plane is reached over http://, https://, ws:// or wss://, not ${url.protocol}//`,
    );
  if (protocol === url.protocol && !WS_PATH.test(url.pathname)) return input;
  url.protocol = protocol;
  url.pathname = url.pathname.replace(WS_PATH, "");
  return url.toString().replace(/\/$/, "");
}
