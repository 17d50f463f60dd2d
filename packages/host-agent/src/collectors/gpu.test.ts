import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateHealth } from "../health.js";
import { NvidiaSmiSource, SimulatedGpuSource } from "./gpu.js";

const dir = mkdtempSync(join(tmpdir(), "podkit-gpu-source-"));
const log = join(dir, "calls.log");

/** A scripted nvidia-smi: answers per argument pattern, logs every call. */
function fakeSmi(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/bash\necho "$*" >> ${log}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("NvidiaSmiSource", () => {
  it("drops a field the driver refuses and keeps the others", async () => {
    writeFileSync(log, "");
    const path = fakeSmi(
      "refuses-power-limit",
      `case "$1" in
  --help-query-gpu) printf '"index"\\n"uuid"\\n"name"\\n"pci.bus_id"\\n"temperature.gpu"\\n"power.limit"\\n' ;;
  --query-gpu=*)
    if [[ "$1" == *power.limit* ]]; then echo 'Field "power.limit" is not a valid field to query.'; exit 2; fi
    echo "index, uuid, name, pci.bus_id, temperature.gpu"
    echo "0, GPU-aaaa, NVIDIA L40S, 00000000:01:00.0, 41" ;;
  *) exit 2 ;;
esac`,
    );
    const source = new NvidiaSmiSource({ path, timeoutMs: 5000 });
    const r = await source.read([]);
    expect(r.failure).toBeNull();
    expect(r.problems).toEqual([]);
    expect(r.gpus.map((g) => [g.uuid, g.temperatureCelsius, g.powerLimitWatts])).toEqual([
      ["GPU-aaaa", 41, null],
    ]);
    // The next cycle does not ask for the refused field again.
    await source.read([]);
    const queries = readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("--query-gpu="));
    expect(queries.filter((q) => q.includes("power.limit"))).toHaveLength(1);
  });

  it("drops every field an old driver refuses when it cannot list its fields", async () => {
    // No --help-query-gpu; like nvidia-smi, it names the first field it does not know.
    const path = fakeSmi(
      "old-driver",
      `declare -A value=([index]=0 [uuid]=GPU-cccc [name]="Tesla K80" [pci.bus_id]=00000000:05:00.0 [temperature.gpu]=38 [memory.total]="11441 MiB")
case "$1" in
  --query-gpu=*)
    IFS=, read -ra fields <<< "\${1#--query-gpu=}"
    for f in "\${fields[@]}"; do
      if [[ -z "\${value[$f]+x}" ]]; then echo 'Field "'"$f"'" is not a valid field to query.'; exit 2; fi
    done
    (IFS=,; echo "\${fields[*]}")
    row=(); for f in "\${fields[@]}"; do row+=("\${value[$f]}"); done
    (IFS=,; echo "\${row[*]}") ;;
  *) exit 2 ;;
esac`,
    );
    const r = await new NvidiaSmiSource({ path, timeoutMs: 5000 }).read([]);
    expect(r.failure).toBeNull();
    expect(
      r.gpus.map((g) => [g.uuid, g.temperatureCelsius, g.pcieLinkGenCurrent, g.clocksEventReasons]),
    ).toEqual([["GPU-cccc", 38, null, null]]);
  });

  it("asks per GPU when one lost GPU breaks the whole query", async () => {
    const path = fakeSmi(
      "one-lost",
      `case "$*" in
  --help-query-gpu) printf '"index"\\n"uuid"\\n"name"\\n"pci.bus_id"\\n' ;;
  *--id=0*) echo 'Unable to determine the device handle for GPU0000:01:00.0: Unknown Error'; exit 15 ;;
  *--id=1*) echo "index, uuid, name, pci.bus_id"; echo "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 00000000:02:00.0" ;;
  --query-gpu=*) echo 'Unable to determine the device handle for GPU0000:01:00.0: Unknown Error'; exit 15 ;;
  *) exit 2 ;;
esac`,
    );
    const r = await new NvidiaSmiSource({ path, timeoutMs: 5000 }).read([0, 1]);
    expect(r.failure?.kind).toBe("gpu-lost");
    expect(r.failure?.pciBusId).toBe("0000:01:00.0");
    expect(r.gpus.map((g) => g.uuid)).toEqual(["GPU-bbbb"]);
  });

  it("gives up on a hung nvidia-smi at the deadline and says so", async () => {
    const path = fakeSmi("hangs", "sleep 30");
    const t0 = Date.now();
    const r = await new NvidiaSmiSource({ path, timeoutMs: 300 }).read([]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.failure?.code).toBe("NVIDIA_SMI_TIMEOUT");
    expect(r.gpus).toEqual([]);
  });

  it("reports a missing nvidia-smi instead of crashing", async () => {
    const r = await new NvidiaSmiSource({ path: join(dir, "does-not-exist"), timeoutMs: 1000 }).read([]);
    expect(r.failure?.code).toBe("NVIDIA_SMI_UNAVAILABLE");
  });
});

describe("SimulatedGpuSource", () => {
  it("replays the recorded 8× H100 and labels itself; the recording's power brake reads degraded", async () => {
    const s = new SimulatedGpuSource("h100-8x");
    expect(s.simulated).toBe(true);
    expect(s.description).toMatch(/^SIMULATED: .*8× H100.*no real GPU is read/);
    const r = await s.read();
    expect(r.gpus).toHaveLength(8);
    expect(r.driverVersion).toBe("535.161.08");
    // Every GPU of this recording has HW Slowdown + HW Power Brake Slowdown active.
    const health = evaluateHealth({ now: new Date(), listed: null, reading: r, xids: [] });
    expect(health.machine.state).toBe("degraded");
    expect(health.machine.reasons.map((x) => `${x.code}:${x.gpuIndex}`)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `GPU_POWER_BRAKE_SLOWDOWN:${i}`),
    );
  });
  it("refuses an unknown capture with the list of known ones", () => {
    expect(() => new SimulatedGpuSource("a100-9x")).toThrow(
      /unknown simulated capture a100-9x \(known: h100-8x\)/,
    );
  });
});
