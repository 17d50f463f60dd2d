import { XMLParser, XMLValidator } from "fast-xml-parser";

/** One `<gpu>` of `nvidia-smi -q -x`, as nested plain objects (text values as strings). */
export type XmlNode = { [key: string]: string | XmlNode | XmlNode[] };

export interface ParsedQueryXml {
  driverVersion: string | null;
  cudaVersion: string | null;
  attachedGpus: number | null;
  gpus: Array<{ busId: string; node: XmlNode; migDevices: XmlNode[] }>;
  problems: string[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === "gpu" || name === "mig_device",
});

/**
 * Parse `nvidia-smi -q -x`. fast-xml-parser validates first, so a cut-off document is reported
 * as a problem (never a half GPU). Old (≤525) and new (≥535) schemas differ in element names;
 * the sample mapper looks for both.
 */
export function parseQueryXml(output: string): ParsedQueryXml {
  const result: ParsedQueryXml = {
    driverVersion: null,
    cudaVersion: null,
    attachedGpus: null,
    gpus: [],
    problems: [],
  };
  const valid = XMLValidator.validate(output);
  if (valid !== true) {
    result.problems.push(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg}); truncated output?`);
    return result;
  }
  const doc = parser.parse(output) as { nvidia_smi_log?: XmlNode };
  const log = doc.nvidia_smi_log;
  if (!log || typeof log !== "object") {
    result.problems.push("no <nvidia_smi_log> element");
    return result;
  }
  result.driverVersion = typeof log.driver_version === "string" ? log.driver_version : null;
  result.cudaVersion = typeof log.cuda_version === "string" ? log.cuda_version : null;
  result.attachedGpus = typeof log.attached_gpus === "string" ? Number.parseInt(log.attached_gpus, 10) : null;
  const gpus = Array.isArray(log.gpu) ? log.gpu : [];
  for (const gpu of gpus) {
    const busId = typeof gpu["@id"] === "string" ? gpu["@id"] : "";
    const migContainer = gpu.mig_devices;
    const migDevices =
      migContainer && typeof migContainer === "object" && !Array.isArray(migContainer)
        ? ((migContainer.mig_device as XmlNode[] | undefined) ?? [])
        : [];
    result.gpus.push({ busId, node: gpu, migDevices });
  }
  if (gpus.length === 0) result.problems.push("no <gpu> element in the output");
  return result;
}

/** Text at a path (`["temperature", "gpu_temp"]`), or null. */
export function xmlText(node: XmlNode | undefined, ...path: string[]): string | null {
  let cur: string | XmlNode | XmlNode[] | undefined = node;
  for (const p of path) {
    if (cur === undefined || typeof cur === "string" || Array.isArray(cur)) return null;
    cur = cur[p];
  }
  return typeof cur === "string" ? cur : null;
}
