/**
 * The relay defaults alone, with no other import, so a command's --help can show them without
 * loading the transfer code (exported as `@podkit/transfer/defaults`).
 */
/** croc's default relay password (`DEFAULT_PASSPHRASE`). */
export const DEFAULT_RELAY_PASSWORD = "pass123";
export const DEFAULT_RELAY_PORTS = [9009, 9010, 9011, 9012, 9013] as const;
