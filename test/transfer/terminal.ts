import { PODKIT, podkit, type Running } from "./cli.js";

/** `podkit ARGS` on a real pseudo-terminal (util-linux `script`): stdout and stderr are a TTY. */
export function podkitInTerminal(args: string[], options: { cwd?: string } = {}): Running {
  const quote = (a: string): string => `'${a.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, PODKIT, ...args].map(quote).join(" ");
  return podkit(args, { ...options, wrap: ["script", "-qfec", command, "/dev/null"] });
}

/**
 * The screen a terminal shows after `raw` was written to it: a small VT100 model of what progress
 * bars use (carriage return, line feed, cursor save/restore and moves, line clears). It lets a test
 * assert the final picture a user sees instead of the bytes that drew it.
 */
export function renderScreen(raw: string): string[] {
  const lines: string[] = [""];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = (): string => lines[row] ?? "";
  const setLine = (text: string): void => {
    while (lines.length <= row) lines.push("");
    lines[row] = text;
  };
  const csi = (params: string, final: string): void => {
    const n = Number.parseInt(params || "0", 10);
    if (final === "G") col = Math.max(0, (n || 1) - 1);
    else if (final === "A") row = Math.max(0, row - (n || 1));
    else if (final === "B") row += n || 1;
    else if (final === "K") {
      if (n === 0) setLine(line().slice(0, col));
      else if (n === 1) setLine(" ".repeat(col + 1) + line().slice(col + 1));
      else setLine("");
    }
    // h/l (cursor visibility, line wrap) and colours change nothing on the screen's text.
  };
  const chars = [...raw];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "\x1b") {
      const next = chars[i + 1];
      if (next === "7" || next === "8") {
        if (next === "7") saved = { row, col };
        else ({ row, col } = saved);
        i++;
        continue;
      }
      const m = /^\[([?\d;]*)([A-Za-z])/.exec(chars.slice(i + 1, i + 16).join(""));
      if (m) {
        csi((m[1] as string).replace("?", ""), m[2] as string);
        i += m[0].length;
      }
      continue;
    }
    if (c === "\r") col = 0;
    else if (c === "\n") row++;
    else {
      const text = line().padEnd(col);
      setLine(text.slice(0, col) + c + text.slice(col + 1));
      col++;
    }
  }
  return lines.map((l) => l.trimEnd()).filter((l, i, all) => l !== "" || i < all.length - 1);
}

/** Every picture of a progress bar drawn in `raw`, in order (each redraw starts at column 1). */
export function barFrames(raw: string): string[] {
  return raw
    .split(/\x1b\[1G/)
    .slice(1)
    .map((f) => f.replace(/\x1b\[[?\d;]*[A-Za-z]|\x1b[78]/g, "").split(/[\r\n]/)[0] as string);
}
