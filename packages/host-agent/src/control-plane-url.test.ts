import { describe, expect, it } from "vitest";
import { controlPlaneBaseUrl } from "./control-plane-url.js";

describe("controlPlaneBaseUrl", () => {
  it.each([
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["https://podkit.example.com/", "https://podkit.example.com/"],
    ["ws://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["wss://podkit.example.com", "https://podkit.example.com"],
    ["wss://podkit.example.com/api/v1/agent/ws", "https://podkit.example.com"],
    ["ws://10.0.0.5:8080/podkit/api/v1/agent/ws/", "http://10.0.0.5:8080/podkit"],
    ["https://podkit.example.com/api/v1/agent/ws", "https://podkit.example.com"],
  ])("%s → %s", (input, expected) => {
    expect(controlPlaneBaseUrl(input)).toBe(expected);
  });

  it("refuses another scheme, or no URL, at start with what to give instead", () => {
    expect(() => controlPlaneBaseUrl("ftp://podkit.example.com")).toThrow(
      /reached over http:\/\/, https:\/\/, ws:\/\/ or wss:\/\/, not ftp:\/\//,
    );
    expect(() => controlPlaneBaseUrl("podkit.example.com")).toThrow(/is not a URL/);
  });
});
