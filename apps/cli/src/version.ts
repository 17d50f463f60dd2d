import { readFileSync } from "node:fs";

/** Set by the bundler (bundle/build.mjs); the workspace build reads package.json instead. */
declare const __PODKIT_VERSION__: string | undefined;

export const VERSION: string =
  typeof __PODKIT_VERSION__ === "string"
    ? __PODKIT_VERSION__
    : (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
        .version;
