/** Where a host keeps the agent's configuration and state (what the systemd unit uses). */
export const AGENT_CONFIG_PATH = "/etc/podkit/agent.toml";
export const STATE_DIR = "/var/lib/podkit/agent";
