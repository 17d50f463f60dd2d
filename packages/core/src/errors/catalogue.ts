/**
 * Every exit status a `podkit` command can end with, and every stable error code, in one place.
 * Codes are what scripts and API clients match on; each names the exit status the CLI ends with
 * and, where the control plane's API can answer with it, the HTTP status.
 */

/** Exit statuses shared by every `podkit` command, with the one-line meaning `--help` shows. */
export const EXIT_STATUSES = {
  ok: { exit: 0, meaning: "success" },
  failure: { exit: 1, meaning: "the command failed (see the message)" },
  usage: { exit: 2, meaning: "wrong usage or invalid input (a flag, a file, a request)" },
  notFound: { exit: 4, meaning: "not found (a host, a volume, a transfer's other side)" },
  auth: { exit: 5, meaning: "authentication failed (a token, a key, a transfer's code phrase)" },
  conflict: { exit: 6, meaning: "conflict with what exists (a file, a reservation, a state)" },
  unavailable: { exit: 7, meaning: "a service is unreachable or busy; try again later" },
  timeout: { exit: 124, meaning: "a deadline passed and the work was stopped (like timeout(1))" },
  interrupted: { exit: 130, meaning: "interrupted (Ctrl-C or cancelled)" },
  connectionLost: { exit: 255, meaning: "the SSH connection to a node was lost (like ssh(1))" },
} as const satisfies Record<string, { exit: number; meaning: string }>;

export type ExitName = keyof typeof EXIT_STATUSES;

/** The exit statuses by name, e.g. `EXIT_CODES.usage === 2`. */
export const EXIT_CODES = Object.fromEntries(
  Object.entries(EXIT_STATUSES).map(([name, { exit }]) => [name, exit]),
) as { readonly [N in ExitName]: (typeof EXIT_STATUSES)[N]["exit"] };

/** The exit statuses in ascending order, one row each: what `podkit --help` lists. */
export const EXIT_CODE_TABLE: ReadonlyArray<{ exit: number; name: ExitName; meaning: string }> = (
  Object.entries(EXIT_STATUSES) as Array<[ExitName, { exit: number; meaning: string }]>
)
  .map(([name, { exit, meaning }]) => ({ exit, name, meaning }))
  .sort((a, b) => a.exit - b.exit);

interface CatalogueEntry {
  /** The exit status (by name) a command that ends with this error exits with. */
  exit: ExitName;
  /** The HTTP status the control plane's API answers with, where the API can meet this error. */
  http?: number;
  /** One line: what happened. */
  meaning: string;
  /** The error carries another program's own exit status (a node's command), which wins over `exit`. */
  passthrough?: true;
}

export const ERROR_CATALOGUE = {
  // Input, configuration and the platform's rules.
  E_INVALID_INPUT: { exit: "usage", http: 400, meaning: "input does not match what is expected" },
  E_USAGE: { exit: "usage", meaning: "a flag has a value the command cannot use" },
  E_CONFIG: { exit: "usage", http: 400, meaning: "a configuration file or setting is missing or wrong" },
  E_RULE: { exit: "usage", http: 422, meaning: "the platform's rules refuse the request" },
  E_NOT_FOUND: { exit: "notFound", http: 404, meaning: "the thing asked for does not exist" },
  E_AUTH: { exit: "auth", http: 401, meaning: "missing or wrong credentials" },
  E_CONFLICT: { exit: "conflict", http: 409, meaning: "the request conflicts with the current state" },
  E_UNAVAILABLE: { exit: "unavailable", http: 503, meaning: "a service or its database is away; try again" },
  E_INTERNAL: { exit: "failure", http: 500, meaning: "the control plane failed unexpectedly (see its log)" },
  E_CONTROL_PLANE: {
    exit: "failure",
    meaning: "the control plane answered with an error this CLI does not know",
  },
  E_LISTEN: { exit: "unavailable", meaning: "a server could not listen on the address asked for" },
  // Host agent.
  E_ACTION_FAILED: { exit: "failure", meaning: "a maintenance action (e.g. a GPU reset) failed" },
  E_BURN_TEST_FAILED: { exit: "failure", meaning: "the burn test found problems" },
  E_COLLECTOR_BUDGET: { exit: "failure", meaning: "a collector did not finish within its time budget" },
  E_SYSTEMD: { exit: "failure", meaning: "systemctl failed while installing or removing the agent's unit" },
  // Cluster runs.
  E_CLUSTER_CHECK: { exit: "failure", meaning: "a cluster check failed" },
  E_SSH_CONNECT: { exit: "failure", meaning: "an SSH connection to a node could not be opened" },
  E_INTERRUPTED: { exit: "interrupted", meaning: "interrupted; the command was stopped on every node" },
  E_TIMEOUT: { exit: "timeout", meaning: "a run passed its deadline and was stopped" },
  E_NODE_LOST: { exit: "connectionLost", meaning: "the connection to a node was lost" },
  E_NODE_FAILED: {
    exit: "failure",
    meaning: "a node's command failed; the exit status is that command's own",
    passthrough: true,
  },
  // Transfers (croc-compatible send/receive and relay).
  E_WRONG_CODE: { exit: "auth", meaning: "the two sides used different code phrases" },
  E_NO_PEER: { exit: "notFound", meaning: "no other side joined within the wait" },
  E_CROC_V11: {
    exit: "usage",
    meaning: "the other side speaks croc 11's protocol, which refuses older peers",
  },
  E_PEER: { exit: "failure", meaning: "the other side reported an error" },
  E_PEER_GONE: { exit: "failure", meaning: "the other side disconnected before the end" },
  E_ABORTED: { exit: "interrupted", meaning: "the transfer was cancelled" },
  E_REFUSED: { exit: "failure", meaning: "the receiver refused the files" },
  E_EXISTS: { exit: "conflict", meaning: "files with other content already exist where files would go" },
  E_HASH: { exit: "failure", meaning: "a file did not match the sender's hash even after a re-send" },
  E_UNSAFE_METADATA: { exit: "usage", meaning: "the sender's file list names unsafe paths" },
  E_RELAY: { exit: "failure", meaning: "the relay cannot carry this transfer" },
  E_RELAY_INDEX: { exit: "usage", meaning: "the code names a relay that does not exist" },
  E_PROTOCOL: { exit: "failure", meaning: "the other side broke the transfer protocol" },
  E_PAKE: { exit: "failure", meaning: "the password-authenticated key exchange failed" },
  E_DECRYPT: { exit: "failure", meaning: "a message did not decrypt (wrong key or tampered)" },
  E_FRAMING: { exit: "failure", meaning: "a frame on the wire is malformed" },
  E_CLOSED: { exit: "failure", meaning: "the connection closed" },
  E_READ_TIMEOUT: { exit: "failure", meaning: "the other side sent nothing within the wait" },
} as const satisfies Record<`E_${string}`, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Codes whose errors carry another program's exit status. */
export type PassthroughCode = {
  [C in ErrorCode]: (typeof ERROR_CATALOGUE)[C] extends { passthrough: true } ? C : never;
}[ErrorCode];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CATALOGUE, code);
}

/** The exit status an error with `code` ends a command with. */
export function exitCodeOf(code: ErrorCode): number {
  return EXIT_STATUSES[ERROR_CATALOGUE[code].exit].exit;
}

/** The HTTP status the API answers an error with `code` with; 500 for codes the API never meets. */
export function httpStatusOf(code: ErrorCode): number {
  const entry: CatalogueEntry = ERROR_CATALOGUE[code];
  return entry.http ?? 500;
}

/**
 * The code a client reads back from an HTTP error status (the reverse of `httpStatusOf`); the
 * first code in the catalogue with that status, or undefined.
 */
export function codeForHttpStatus(status: number): ErrorCode | undefined {
  return (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).find(
    (code) => (ERROR_CATALOGUE[code] as CatalogueEntry).http === status,
  );
}
