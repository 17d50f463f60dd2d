/**
 * Defaults a command's --help shows, with no other import, so the help does not load the gateway
 * (exported as `@podkit/s3-gateway/defaults`).
 */
export const DEFAULT_TIMEOUTS = { headerMs: 20_000, idleMs: 60_000, keepAliveMs: 65_000 } as const;
