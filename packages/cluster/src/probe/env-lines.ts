/** The `KEY=VALUE` text of env files and of `env` output, as podkit reads it back from nodes. */
/** Parse KEY=VALUE lines (cluster.env, `env` output); later lines win, like pam_env and the shell. */
export function parseEnvLines(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return env;
}
