import { z } from "zod";

/** A SHA256 host-key fingerprint as OpenSSH prints it: "SHA256:base64...". */
const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected an OpenSSH fingerprint like "SHA256:abc…"');

export const SshSettingsSchema = z.object({
  user: z.string().min(1).default("root"),
  identityFile: z.string().min(1).optional(),
  knownHosts: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  connectTimeoutMs: z.number().int().positive().optional(),
});

export const ClusterNodeSpecSchema = z.object({
  /** SSH address (often the management NIC). */
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  identityFile: z.string().optional(),
  hostKeyFingerprint: fingerprint.optional(),
  /** Address on the cluster network; discovered from the cluster interface when absent. */
  clusterAddress: z.string().optional(),
  gpus: z.number().int().nonnegative().optional(),
  /** Pin a rank; otherwise ranks follow the order of `nodes`, the primary first. */
  rank: z.number().int().nonnegative().optional(),
});
export type ClusterNodeSpec = z.infer<typeof ClusterNodeSpecSchema>;

export const ClusterSpecSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "cluster names are lower-case letters, digits and dashes")
    .default("podkit"),
  primaryPort: z.number().int().min(1).max(65535).default(29500),
  ssh: SshSettingsSchema.default({ user: "root" }),
  gpusPerNode: z.union([z.literal("auto"), z.number().int().nonnegative()]).default("auto"),
  /**
   * CPU (gloo) work: this many trainer processes per node, GPUs or not. Makes every node CPU-only
   * for the pre-flight; leave gpusPerNode at "auto" when it is set.
   */
  trainersPerNode: z.number().int().positive().optional(),
  network: z
    .object({
      interface: z.string().min(1).default("auto"),
      /** Interfaces that must never carry collectives. */
      exclude: z.array(z.string()).default(["eth0", "lo", "docker0"]),
      /** "auto" (unset): NCCL uses the InfiniBand/RoCE ports found; "sockets": TCP on the cluster NIC only. */
      transport: z.enum(["auto", "sockets"]).optional(),
    })
    .default({ interface: "auto", exclude: ["eth0", "lo", "docker0"] }),
  slurm: z
    .object({
      clusterName: z.string().optional(),
      partition: z.string().default("gpu"),
    })
    .optional(),
  nodes: z.array(ClusterNodeSpecSchema).min(1, "a cluster needs at least one node"),
});
export type ClusterSpec = z.infer<typeof ClusterSpecSchema>;
