/**
 * gpu-burn output (wilicc/gpu-burn). Its exit status is 0 even when a GPU is FAULTY, and a run
 * can print OK without doing any work, so the verdict comes from the text: the `Tested N GPUs`
 * block, the progress records (each starts with `\r`, many on one physical line), errors per
 * GPU, `(DIED!)` workers and the abort message.
 */
export interface GpuBurnGpuResult {
  index: number;
  /** Verdict from the `Tested` block, or null when the block is missing for this GPU. */
  verdict: "OK" | "FAULTY" | null;
  progressRecords: number;
  maxGflops: number | null;
  maxTemperatureCelsius: number | null;
  /** Any non-zero error count seen in a progress record. */
  errorsSeen: boolean;
  died: boolean;
}

export interface GpuBurnResult {
  gpus: GpuBurnGpuResult[];
  testedCount: number | null;
  aborted: boolean;
  /** Pass only if every GPU is OK, did work (progress + Gflop/s + temperature), never errored or died. */
  passed: boolean;
  problems: string[];
}

export function parseGpuBurn(output: string, options: { minProgressRecords?: number } = {}): GpuBurnResult {
  const minProgress = options.minProgressRecords ?? 1;
  const records = output.split(/[\r\n]+/).filter((r) => /^\s*\d+(\.\d+)?%\s+proc'd:/.test(r));
  const gpus = new Map<number, GpuBurnGpuResult>();
  const gpu = (i: number) => {
    let g = gpus.get(i);
    if (!g) {
      g = {
        index: i,
        verdict: null,
        progressRecords: 0,
        maxGflops: null,
        maxTemperatureCelsius: null,
        errorsSeen: false,
        died: false,
      };
      gpus.set(i, g);
    }
    return g;
  };
  for (const line of output.split(/\r?\n/)) {
    const dev = /^GPU (\d+): .*\(UUID: /.exec(line.trim());
    if (dev) gpu(Number(dev[1]));
  }
  for (const record of records) {
    const procd = /proc'd:\s*(.*?)\s+errors:/.exec(record)?.[1] ?? "";
    const errors = /errors:\s*(.*?)\s+temps:/.exec(record)?.[1] ?? /errors:\s*(.*)$/.exec(record)?.[1] ?? "";
    const temps = /temps:\s*(.*)$/.exec(record)?.[1] ?? "";
    procd.split(/\s+-\s+/).forEach((cell, i) => {
      const m = /(-?\d+)\s*\(([\d.]+) Gflop\/s\)/.exec(cell);
      if (!m) return;
      const g = gpu(i);
      g.progressRecords++;
      const gflops = Number(m[2]);
      g.maxGflops = Math.max(g.maxGflops ?? 0, gflops);
      if (Number(m[1]) < 0) g.died = true;
    });
    errors.split(/\s+-\s+|\)-\s*/).forEach((cell, i) => {
      const m = /(-?\d+)/.exec(cell);
      if (!m) return;
      const g = gpu(i);
      if (Number(m[1]) !== 0) g.errorsSeen = true;
      if (/DIED!/.test(cell)) g.died = true;
    });
    temps.split(/\s+-\s+/).forEach((cell, i) => {
      const m = /(\d+)\s*C/.exec(cell);
      if (!m) return;
      const g = gpu(i);
      g.maxTemperatureCelsius = Math.max(g.maxTemperatureCelsius ?? 0, Number(m[1]));
    });
  }
  const tested = /Tested (\d+) GPUs:/.exec(output);
  for (const m of output.matchAll(/^\s*GPU (\d+): (OK|FAULTY)\s*$/gm))
    gpu(Number(m[1])).verdict = m[2] as "OK" | "FAULTY";
  const aborted = /No clients are alive!\s+Aborting|Couldn't init a GPU test/.test(output);
  const problems: string[] = [];
  if (aborted) problems.push("gpu-burn aborted (no worker alive or a GPU could not be initialised)");
  if (!tested) problems.push("no `Tested N GPUs` verdict block (run cut short?)");
  const list = [...gpus.values()].sort((a, b) => a.index - b.index);
  if (list.length === 0) problems.push("no GPU in the output");
  for (const g of list) {
    if (g.verdict === "FAULTY") problems.push(`GPU ${g.index}: FAULTY`);
    else if (g.verdict === null && tested) problems.push(`GPU ${g.index}: missing from the verdict block`);
    if (g.died) problems.push(`GPU ${g.index}: worker died`);
    if (g.errorsSeen && g.verdict !== "FAULTY") problems.push(`GPU ${g.index}: computation errors seen`);
    if (g.progressRecords < minProgress || !g.maxGflops)
      problems.push(`GPU ${g.index}: no measurable work (${g.progressRecords} progress records)`);
    if (g.maxTemperatureCelsius === null) problems.push(`GPU ${g.index}: no temperature reading`);
  }
  if (tested && Number(tested[1]) !== list.length)
    problems.push(`Tested ${tested[1]} GPUs but ${list.length} appear`);
  return {
    gpus: list,
    testedCount: tested ? Number(tested[1]) : null,
    aborted,
    passed: problems.length === 0,
    problems,
  };
}
