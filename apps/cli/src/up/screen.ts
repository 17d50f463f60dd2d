/** What `podkit up` prints: one screen for people and one JSON object for scripts. Pure. */
export interface StackInfo {
  dataDir: string;
  controlPlane: { url: string; dashboardUrl: string; adminToken: string; adminTokenFile: string | null };
  s3: { endpoint: string; accessKey: string; secretKey: string; bucket: string; region: string };
  relay: { address: string; password: string };
  agent: { metricsUrl: string; stateDir: string; gpuSource: string; simulated: boolean };
  /** How to run `podkit` from a shell, so every printed command works as printed. */
  podkitCommand: string;
}

/** The `--json` shape; the keys named in the contract are always present. */
export function stackJson(info: StackInfo): Record<string, unknown> {
  return {
    dataDir: info.dataDir,
    controlPlane: {
      url: info.controlPlane.url,
      dashboardUrl: info.controlPlane.dashboardUrl,
      adminToken: info.controlPlane.adminToken,
    },
    s3: {
      endpoint: info.s3.endpoint,
      accessKey: info.s3.accessKey,
      secretKey: info.s3.secretKey,
      bucket: info.s3.bucket,
      region: info.s3.region,
    },
    relay: { address: info.relay.address, password: info.relay.password },
    agent: {
      metricsUrl: info.agent.metricsUrl,
      gpuSource: info.agent.gpuSource,
      simulated: info.agent.simulated,
    },
  };
}

/** Quote for a POSIX shell only when needed, so commands stay readable and still paste safely. */
export function shq(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function stackScreen(info: StackInfo): string {
  const p = info.podkitCommand;
  const cp = info.controlPlane;
  const aws = `AWS_ACCESS_KEY_ID=${shq(info.s3.accessKey)} AWS_SECRET_ACCESS_KEY=${shq(info.s3.secretKey)} AWS_DEFAULT_REGION=${shq(info.s3.region)}`;
  const relay = `--relay ${shq(info.relay.address)} --relay-pass ${shq(info.relay.password)}`;
  const gpuLine = info.agent.simulated ? info.agent.gpuSource : `real GPUs via ${info.agent.gpuSource}`;
  return `Podkit is up — data in ${info.dataDir}

  Dashboard       ${cp.dashboardUrl}   (sign in with the admin token)
  Control plane   ${cp.url}   admin token ${cp.adminToken}
  S3 endpoint     ${info.s3.endpoint}   bucket ${info.s3.bucket}   key ${info.s3.accessKey} / ${info.s3.secretKey}
  Transfer relay  ${info.relay.address}   password ${info.relay.password}
  Agent metrics   ${info.agent.metricsUrl}
  This host       ${gpuLine}

Try it (copy and paste):
  export PODKIT_CONTROL_PLANE=${shq(cp.url)} PODKIT_ADMIN_TOKEN=${shq(cp.adminToken)}
  ${p} hosts list
  ${aws} aws s3 ls s3://${info.s3.bucket} --endpoint-url ${info.s3.endpoint}
  ${aws} aws s3 cp ./README.md s3://${info.s3.bucket}/ --endpoint-url ${info.s3.endpoint}
  ${p} send FILE ${relay}
  ${p} receive CODE ${relay}
  xdg-open ${shq(cp.dashboardUrl)}    # the dashboard

Ctrl-C stops everything.`;
}
