import { isPodkitError } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { SshConnectError, SshSession } from "./session.js";

describe("SshSession.connect", () => {
  it("refuses an unreadable identity file with a PodkitError that names the file", () => {
    let thrown: unknown;
    try {
      void SshSession.connect(
        { host: "127.0.0.1", port: 22, user: "root", identityFile: "/nonexistent/podkit-test-key" },
        { knownHostsFile: "/nonexistent/known_hosts", acceptNew: false },
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SshConnectError);
    expect(isPodkitError(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      code: "E_SSH_CONNECT",
      exitCode: 1,
      message: "cannot read the SSH key /nonexistent/podkit-test-key: ENOENT",
    });
  });
});
