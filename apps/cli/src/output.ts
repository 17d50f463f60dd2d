/** Printing helpers shared by every command: JSON for scripts, aligned tables for people. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
};

export function printJson(output: Output, value: unknown): void {
  output.out(JSON.stringify(value, null, 2));
}

/** Left-aligned columns separated by two spaces, like `kubectl get`. */
export function formatTable(
  headers: string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | null>>,
): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? "-" : String(c))))];
  const widths = headers.map((_, col) => Math.max(...cells.map((r) => (r[col] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, col) => (col === r.length - 1 ? c : c.padEnd(widths[col] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
