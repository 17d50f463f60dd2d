// A light entry (`@podkit/host-agent/daemon`) for what `podkit agent` needs before it loads the
// agent itself: importing the whole package first would grow V8's heap before it can be tuned.
export { AGENT_CONFIG_PATH, STATE_DIR } from "./constants.js";
export { type DaemonHeap, tuneHeapForDaemon } from "./daemon-heap.js";
