import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors/index.js";
import { parseListen } from "./listen.js";

describe("parseListen", () => {
  it("reads host:port, [v6]:port, :port and a bare port", () => {
    expect(parseListen("0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parseListen("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parseListen(":9101")).toEqual({ host: "127.0.0.1", port: 9101 });
    expect(parseListen("9101")).toEqual({ host: "127.0.0.1", port: 9101 });
    expect(parseListen("localhost:0")).toEqual({ host: "localhost", port: 0 });
  });

  it("refuses what is not host:port with a ConfigError naming the option, never a default port", () => {
    for (const bad of ["", "localhost", "127.0.0.1:", "127.0.0.1:http", "::1:80", "[::1]", "host:80:90"]) {
      let caught: unknown;
      try {
        parseListen(bad, "--listen");
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toBe(
        `--listen "${bad}" is not host:port (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080 or :8080)`,
      );
      expect((caught as ConfigError).exitCode).toBe(2);
    }
  });

  it("refuses a port above 65535", () => {
    expect(() => parseListen("127.0.0.1:65536", "--metrics-listen")).toThrow(
      '--metrics-listen "127.0.0.1:65536": port 65536 is out of range (0-65535)',
    );
  });
});
