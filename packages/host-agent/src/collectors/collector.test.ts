import { isPodkitError } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { BudgetExceeded } from "./collector.js";

describe("BudgetExceeded", () => {
  it("is a PodkitError with a catalogued code, so it reads the same wherever it surfaces", () => {
    const err = new BudgetExceeded("gpu collector did not finish within 2000 ms");
    expect(isPodkitError(err)).toBe(true);
    expect(err).toMatchObject({ code: "E_COLLECTOR_BUDGET", exitCode: 1, name: "BudgetExceeded" });
  });
});
