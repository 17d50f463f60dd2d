import { describe, expect, it } from "vitest";
import { findGpuType, GPU_CATALOG, gpuTypesInPool } from "./gpu-catalog.js";

describe("GPU catalog", () => {
  it.each([
    ["NVIDIA H100 80GB HBM3", "H100 SXM", 80, "ADA_80_PRO"],
    ["NVIDIA H200", "H200 SXM", 141, "HOPPER_141"],
    ["NVIDIA A100-SXM4-80GB", "A100 SXM", 80, "AMPERE_80"],
    ["NVIDIA GeForce RTX 4090", "RTX 4090", 24, "ADA_24"],
    ["NVIDIA L40S", "L40S", 48, "ADA_48_PRO"],
    ["Tesla V100-SXM2-32GB", "V100 SXM2 32GB", 32, null],
    ["AMD Instinct MI300X OAM", "MI300X", 192, null],
  ])("maps the nvidia-smi name %s to %s", (name, displayName, memoryGb, pool) => {
    const gpu = findGpuType(name);
    expect(gpu).toMatchObject({ id: name, displayName, memoryGb, pool });
  });

  it("ignores case, extra spaces and a missing NVIDIA prefix", () => {
    expect(findGpuType("  nvidia   h100 80gb hbm3 ")?.displayName).toBe("H100 SXM");
    expect(findGpuType("H100 80GB HBM3")?.displayName).toBe("H100 SXM");
    expect(findGpuType("h100 sxm")?.id).toBe("NVIDIA H100 80GB HBM3");
  });

  it("returns undefined for a card it does not know instead of guessing", () => {
    expect(findGpuType("NVIDIA A100-SXM4-40GB")).toBeUndefined();
    expect(findGpuType("")).toBeUndefined();
  });

  it("has unique ids and display names", () => {
    expect(new Set(GPU_CATALOG.map((g) => g.id)).size).toBe(GPU_CATALOG.length);
    expect(new Set(GPU_CATALOG.map((g) => g.displayName)).size).toBe(GPU_CATALOG.length);
  });

  it("lists the GPUs of a pool", () => {
    expect(
      gpuTypesInPool("AMPERE_48")
        .map((g) => g.displayName)
        .sort(),
    ).toEqual(["A40", "RTX A6000"]);
    expect(
      gpuTypesInPool("ADA_80_PRO")
        .map((g) => g.displayName)
        .sort(),
    ).toEqual(["H100 PCIe", "H100 SXM"]);
  });
});
