import { readFileSync } from "node:fs";
import type { XidEvent } from "@podkit/core";
import { parse } from "csv-parse/sync";

export type XidAction = XidEvent["action"];

export interface XidCatalogEntry {
  xid: number;
  mnemonic: string;
  description: string;
  immediateResolution: string;
  investigatoryResolution: string;
  action: XidAction;
}

/**
 * Where NVIDIA's immediate resolution does not say what a host must do, our reading of the
 * catalogue and of gpud / k8s-device-plugin practice (see docs in the package README):
 * 64 = row remapping failed → the memory is out of spare rows (RMA); 48 (double-bit ECC) and the
 * NVLink workflows want a drain and GPU reset; 45 follows another XID and 154 only announces a
 * recovery-action change, so neither acts by itself.
 */
const OVERRIDES: Record<number, XidAction> = { 45: "none", 48: "reset-gpu", 64: "rma", 154: "none" };

export function actionForResolution(resolution: string): XidAction {
  switch (resolution.trim()) {
    case "IGNORE":
      return "none";
    case "RESTART_APP":
    case "CHECK_UVM":
      return "restart-app";
    case "RESET_GPU":
    case "WORKFLOW_NVLINK_ERR":
    case "WORKFLOW_NVLINK5_ERR":
    case "WORKFLOW_XID_48":
      return "reset-gpu";
    case "RESTART_BM":
    case "RESTART_VM":
    case "UPDATE_SWFW":
      return "reboot";
    case "CHECK_MECHANICALS":
      return "rma";
    default:
      // CONTACT_SUPPORT and empty rows: the catalogue names no host action.
      return "unknown";
  }
}

export function parseXidCatalog(csv: string): Map<number, XidCatalogEntry> {
  const rows = parse(csv, { columns: true, skip_empty_lines: true, relax_column_count: true }) as Array<
    Record<string, string>
  >;
  const catalog = new Map<number, XidCatalogEntry>();
  for (const row of rows) {
    const xid = Number.parseInt(row.xid ?? "", 10);
    if (!Number.isInteger(xid)) continue;
    const immediate = row.immediate_resolution ?? "";
    catalog.set(xid, {
      xid,
      mnemonic: row.mnemonic ?? "",
      description: row.description ?? "",
      immediateResolution: immediate,
      investigatoryResolution: row.investigatory_resolution ?? "",
      action: OVERRIDES[xid] ?? actionForResolution(immediate),
    });
  }
  return catalog;
}

let bundled: Map<number, XidCatalogEntry> | null = null;

/** The catalogue shipped in `data/xid-catalog.csv`. */
export function loadXidCatalog(): Map<number, XidCatalogEntry> {
  bundled ??= parseXidCatalog(readFileSync(new URL("../../data/xid-catalog.csv", import.meta.url), "utf8"));
  return bundled;
}
