/**
 * nvidia_gpu_exporter capture files: one recorded machine, one section per command, each
 * headed by a `#####` bar, `# <state> :: <title>`, `# $ <command>` and another bar; a failing
 * command ends with `# (exit code: N)`. The simulated GPU source and the fake nvidia-smi in the
 * tests replay these sections.
 */
export interface CaptureSection {
  title: string;
  command: string;
  output: string;
  exitCode: number;
}

const BAR = /^#{20,}\s*$/;

export function parseCapture(text: string): CaptureSection[] {
  const lines = text.split("\n");
  const sections: CaptureSection[] = [];
  let i = 0;
  while (i < lines.length) {
    if (BAR.test(lines[i]!) && /^# .+ :: /.test(lines[i + 1] ?? "")) {
      const title = lines[i + 1]!.slice(2).trim();
      const commandLine = lines[i + 2] ?? "";
      const hasCommand = commandLine.startsWith("# $ ");
      let j = i + (hasCommand ? 3 : 2);
      if (BAR.test(lines[j] ?? "")) j++;
      const body: string[] = [];
      while (j < lines.length && !(BAR.test(lines[j]!) && /^# .+ :: /.test(lines[j + 1] ?? "")))
        body.push(lines[j++]!);
      let exitCode = 0;
      const exitIndex = body.findIndex((l) => /^# \(exit code: (\d+)\)/.test(l));
      if (exitIndex >= 0) {
        exitCode = Number(/\d+/.exec(body[exitIndex]!)![0]);
        body.splice(exitIndex);
      }
      while (body.length > 0 && body[body.length - 1]!.trim() === "") body.pop();
      sections.push({
        title,
        command: hasCommand ? commandLine.slice(4).trim() : "",
        output: body.length > 0 ? `${body.join("\n")}\n` : "",
        exitCode,
      });
      i = j;
    } else i++;
  }
  return sections;
}

export function captureSection(sections: CaptureSection[], title: string): CaptureSection | undefined {
  return sections.find((s) => s.title === title);
}
