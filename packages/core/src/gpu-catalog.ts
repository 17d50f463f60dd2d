import { z } from "zod";

/** GPU pools, as used to say which GPUs a workload may run on. */
export const GpuPoolIdSchema = z.enum([
  "AMPERE_16",
  "AMPERE_24",
  "ADA_24",
  "AMPERE_48",
  "ADA_48_PRO",
  "AMPERE_80",
  "ADA_80_PRO",
  "HOPPER_141",
]);
export type GpuPoolId = z.infer<typeof GpuPoolIdSchema>;

export const GpuTypeSchema = z.object({
  /** The platform's GPU ID; for NVIDIA cards this is the name nvidia-smi prints. */
  id: z.string().min(1),
  displayName: z.string().min(1),
  vendor: z.enum(["nvidia", "amd"]),
  memoryGb: z.number().int().positive(),
  pool: GpuPoolIdSchema.nullable(),
});
export type GpuType = z.infer<typeof GpuTypeSchema>;

type Row = [id: string, displayName: string, memoryGb: number, pool: GpuPoolId | null];

// From the platform's published "GPU types" and "GPU pools" tables (shared/reference/pods.md).
const ROWS: Row[] = [
  ["AMD Instinct MI300X OAM", "MI300X", 192, null],
  ["NVIDIA A100 80GB PCIe", "A100 PCIe", 80, "AMPERE_80"],
  ["NVIDIA A100-SXM4-80GB", "A100 SXM", 80, "AMPERE_80"],
  ["NVIDIA A30", "A30", 24, null],
  ["NVIDIA A40", "A40", 48, "AMPERE_48"],
  ["NVIDIA B200", "B200", 180, null],
  ["NVIDIA GeForce RTX 3070", "RTX 3070", 8, null],
  ["NVIDIA GeForce RTX 3080", "RTX 3080", 10, null],
  ["NVIDIA GeForce RTX 3080 Ti", "RTX 3080 Ti", 12, null],
  ["NVIDIA GeForce RTX 3090", "RTX 3090", 24, "AMPERE_24"],
  ["NVIDIA GeForce RTX 3090 Ti", "RTX 3090 Ti", 24, null],
  ["NVIDIA GeForce RTX 4070 Ti", "RTX 4070 Ti", 12, null],
  ["NVIDIA GeForce RTX 4080", "RTX 4080", 16, null],
  ["NVIDIA GeForce RTX 4080 SUPER", "RTX 4080 SUPER", 16, null],
  ["NVIDIA GeForce RTX 4090", "RTX 4090", 24, "ADA_24"],
  ["NVIDIA GeForce RTX 5080", "RTX 5080", 16, null],
  ["NVIDIA GeForce RTX 5090", "RTX 5090", 32, null],
  ["NVIDIA H100 80GB HBM3", "H100 SXM", 80, "ADA_80_PRO"],
  ["NVIDIA H100 NVL", "H100 NVL", 94, null],
  ["NVIDIA H100 PCIe", "H100 PCIe", 80, "ADA_80_PRO"],
  ["NVIDIA H200", "H200 SXM", 141, "HOPPER_141"],
  ["NVIDIA L4", "L4", 24, "AMPERE_24"],
  ["NVIDIA L40", "L40", 48, "ADA_48_PRO"],
  ["NVIDIA L40S", "L40S", 48, "ADA_48_PRO"],
  ["NVIDIA RTX 2000 Ada Generation", "RTX 2000 Ada", 16, "AMPERE_16"],
  ["NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20, "AMPERE_16"],
  ["NVIDIA RTX 4000 SFF Ada Generation", "RTX 4000 Ada SFF", 20, null],
  ["NVIDIA RTX 5000 Ada Generation", "RTX 5000 Ada", 32, null],
  ["NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48, "ADA_48_PRO"],
  ["NVIDIA RTX A2000", "RTX A2000", 6, null],
  ["NVIDIA RTX A4000", "RTX A4000", 16, "AMPERE_16"],
  ["NVIDIA RTX A4500", "RTX A4500", 20, "AMPERE_16"],
  ["NVIDIA RTX A5000", "RTX A5000", 24, "AMPERE_24"],
  ["NVIDIA RTX A6000", "RTX A6000", 48, "AMPERE_48"],
  ["NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000 Server", 96, null],
  ["NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "RTX PRO 6000 Workstation", 96, null],
  ["Tesla V100-FHHL-16GB", "V100 FHHL", 16, null],
  ["Tesla V100-PCIE-16GB", "Tesla V100", 16, null],
  ["Tesla V100-SXM2-16GB", "V100 SXM2", 16, null],
  ["Tesla V100-SXM2-32GB", "V100 SXM2 32GB", 32, null],
];

export const GPU_CATALOG: readonly GpuType[] = Object.freeze(
  ROWS.map(([id, displayName, memoryGb, pool]) =>
    Object.freeze({ id, displayName, vendor: id.startsWith("AMD") ? "amd" : "nvidia", memoryGb, pool }),
  ) as GpuType[],
);

function normalizeName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/^nvidia /, "");
}

const BY_NORMALIZED_NAME = new Map<string, GpuType>();
for (const gpu of GPU_CATALOG) {
  BY_NORMALIZED_NAME.set(normalizeName(gpu.id), gpu);
  BY_NORMALIZED_NAME.set(normalizeName(gpu.displayName), gpu);
}

/**
 * Find a catalog entry from the product name nvidia-smi prints ("NVIDIA H100 80GB HBM3"),
 * a GPU ID or a display name ("H100 SXM"). Case and spacing do not matter, and the "NVIDIA "
 * prefix that older drivers omit is optional. Unknown cards return undefined, never a guess.
 */
export function findGpuType(name: string): GpuType | undefined {
  return BY_NORMALIZED_NAME.get(normalizeName(name));
}

export function gpuTypesInPool(pool: GpuPoolId): GpuType[] {
  return GPU_CATALOG.filter((gpu) => gpu.pool === pool);
}
