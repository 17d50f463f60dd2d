/** Quote one argument for a POSIX shell: 'it'"'"'s' style, safe for any byte except NUL. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

/** A command line from argv; a single argument is taken as a shell snippet (`run -- 'a && b'`). */
export function commandLine(argv: readonly string[]): string {
  return argv.length === 1 ? argv[0]! : argv.map(shellQuote).join(" ");
}
