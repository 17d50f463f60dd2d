import { EXIT_CODE_TABLE } from "@podkit/core";
import type { Command } from "commander";

/** The exit statuses, from core's error catalogue (the one list of them), as `podkit --help` shows them. */
export function exitCodesHelp(): string {
  const lines = EXIT_CODE_TABLE.map(({ exit, meaning }) => `  ${String(exit).padStart(3)}  ${meaning}`);
  return [
    "Exit codes:",
    ...lines,
    "  cluster run and torchrun otherwise exit with the first failing node's own status.",
  ].join("\n");
}

/**
 * At least one example per command, keyed by the command's path. Kept in one table (not beside each
 * command) so a test can walk the tree and find any command without one.
 */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  gpus: ["podkit gpus", "podkit gpus --pool ADA_80_PRO --json"],
  "control-plane": ["podkit control-plane serve --listen 127.0.0.1:8080 --data-dir ./cp"],
  "control-plane serve": [
    "podkit control-plane serve --listen 0.0.0.0:8080 --data-dir /var/lib/podkit/control-plane",
    "podkit control-plane serve --db postgres://podkit@db/podkit --admin-token-file /etc/podkit/admin-token",
  ],
  hosts: [
    "export PODKIT_CONTROL_PLANE=http://127.0.0.1:8080 PODKIT_ADMIN_TOKEN_FILE=/etc/podkit/admin-token",
    "podkit hosts list",
  ],
  "hosts list": ["podkit hosts list --control-plane http://127.0.0.1:8080 --json"],
  "hosts show": ["podkit hosts show gpu-host-1 --control-plane http://127.0.0.1:8080"],
  "hosts enroll": [
    "podkit hosts enroll --control-plane http://127.0.0.1:8080 --ttl 1h",
    "# then, on the new host: podkit agent install --control-plane URL --token pke_…",
  ],
  "hosts rent": ["podkit hosts rent gpu-host-1 --renter alice --control-plane URL"],
  "hosts free": ["podkit hosts free gpu-host-1 --control-plane URL"],
  maintenance: ["podkit maintenance list --control-plane URL"],
  "maintenance schedule": [
    "podkit maintenance schedule gpu-host-1 --start \"$(date -u -d '+8 days' +%FT%TZ)\" --duration 2h --reason 'driver update' --control-plane URL",
    "podkit maintenance schedule gpu-host-1 --immediate --duration 30m --reason 'failing fan' --control-plane URL",
  ],
  "maintenance list": ["podkit maintenance list --host gpu-host-1 --all --control-plane URL"],
  "maintenance cancel": [
    "podkit maintenance cancel WINDOW_ID --control-plane URL   # the id from maintenance list",
  ],
  agent: ["podkit agent install --control-plane https://cp.example.com --token pke_…", "podkit agent status"],
  "agent run": [
    "podkit agent run --control-plane https://cp.example.com --token pke_…",
    "podkit agent run --simulate h100-8x --metrics-listen 127.0.0.1:9400",
  ],
  "agent status": ["podkit agent status", "podkit agent status --json"],
  "agent install": ["podkit agent install --control-plane https://cp.example.com --token pke_…"],
  "agent uninstall": ["podkit agent uninstall", "podkit agent uninstall --purge"],
  "agent reset-gpu": ["podkit agent reset-gpu --gpu 3 --dry-run"],
  "agent reboot": ["podkit agent reboot --dry-run"],
  "agent burn-test": ["podkit agent burn-test --gpu-seconds 60 --cpu-seconds 30 --json"],
  send: [
    "podkit send ./checkpoints ./dataset.tar",
    "podkit send model.bin --relay relay.example.com:9009 --relay-pass /etc/podkit/relay-pass",
  ],
  receive: [
    "podkit receive 8338-galaxy-basket-finger --out /workspace",
    "podkit receive 8338-galaxy-basket-finger --yes --overwrite --out /workspace   # no questions",
  ],
  relay: ["podkit relay --host 0.0.0.0 --ports 9009,9010,9011,9012,9013 --relay-pass /etc/podkit/relay-pass"],
  cluster: ["podkit cluster up -f cluster.yaml", "podkit cluster torchrun -f cluster.yaml --upload train.py"],
  "cluster plan": ["podkit cluster plan -f cluster.yaml", "podkit cluster plan -f cluster.yaml --json"],
  "cluster up": [
    "podkit cluster up -f cluster.yaml",
    "podkit cluster up -f cluster.yaml --accept-new-host-keys",
  ],
  "cluster check": [
    "podkit cluster check -f cluster.yaml",
    "podkit cluster check -f cluster.yaml --munge --json",
  ],
  "cluster env": ["podkit cluster env", "podkit cluster env --json"],
  "cluster down": ["podkit cluster down -f cluster.yaml"],
  "cluster run": [
    "podkit cluster run -f cluster.yaml -- nvidia-smi -L",
    "podkit cluster run -f cluster.yaml --timeout 90s -- python3 /workspace/eval.py",
  ],
  "cluster torchrun": [
    "podkit cluster torchrun -f cluster.yaml /workspace/train.py --epochs 3",
    "podkit cluster torchrun -f cluster.yaml --upload ./train.py   # copy the local script first",
  ],
  "cluster slurm": ["podkit cluster slurm -f cluster.yaml", "srun -N3 hostname   # afterwards, on a node"],
  s3: ["podkit s3 serve --root /srv/volumes --credentials /etc/podkit/s3-credentials.toml"],
  "s3 serve": [
    "podkit s3 serve --root /srv/volumes --credentials /etc/podkit/s3-credentials.toml --listen 0.0.0.0:9000",
    "podkit s3 serve --root /srv/volumes --credentials creds.toml --workers 4 --metrics-listen 127.0.0.1:9101",
  ],
  up: ["podkit up", "podkit up --detach --data ./podkit-data"],
  down: ["podkit down", "podkit down --data ./podkit-data"],
};

/** The command's path below `podkit`, e.g. "cluster up". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds the examples (and, on the root, the exit codes) after every command's help. */
export function addHelpExtras(program: Command): void {
  program.addHelpText("after", `\n${exitCodesHelp()}`);
  const visit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      const examples = EXAMPLES[commandPath(sub)];
      if (examples) sub.addHelpText("after", `\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}`);
      visit(sub);
    }
  };
  visit(program);
}
