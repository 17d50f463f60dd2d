import { GPU_CATALOG, GpuPoolIdSchema, parseWith } from "@podkit/core";
import type { Command } from "commander";
import { formatTable, type Output, printJson } from "../output.js";

export function registerGpuCommands(program: Command, output: Output): void {
  program
    .command("gpus")
    .description("list the GPU types the platform knows (GPU ID, display name, memory, pool)")
    .option("--pool <pool>", `only GPUs of one pool (${GpuPoolIdSchema.options.join(", ")})`)
    .option("--json", "print JSON")
    .action((opts: { pool?: string; json?: boolean }) => {
      const pool = opts.pool === undefined ? undefined : parseWith(GpuPoolIdSchema, opts.pool, "--pool");
      const gpus = GPU_CATALOG.filter((gpu) => pool === undefined || gpu.pool === pool);
      if (opts.json) {
        printJson(output, gpus);
        return;
      }
      output.out(
        formatTable(
          ["GPU ID", "DISPLAY NAME", "MEMORY", "POOL"],
          gpus.map((gpu) => [gpu.id, gpu.displayName, `${gpu.memoryGb} GB`, gpu.pool]),
        ),
      );
    });
}
