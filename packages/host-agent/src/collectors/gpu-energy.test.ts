import { describe, expect, it } from "vitest";
import { EnergyIntegrator } from "./gpu-energy.js";

describe("EnergyIntegrator", () => {
  it("adds power × time between readings, per GPU (trapezoid rule)", () => {
    const e = new EnergyIntegrator();
    expect(e.add("a", 0, 100)).toBe(0);
    expect(e.add("b", 0, 400)).toBe(0);
    expect(e.add("a", 10_000, 300)).toBe(2000); // (100 + 300) / 2 W × 10 s
    expect(e.add("b", 5_000, 400)).toBe(2000);
    expect(e.add("a", 12_000, 300)).toBe(600);
  });

  it("adds nothing for a repeated reading, a clock step back, or a gap longer than its limit", () => {
    const e = new EnergyIntegrator(60_000);
    e.add("a", 100_000, 200);
    expect(e.add("a", 100_000, 200)).toBe(0);
    expect(e.add("a", 90_000, 200)).toBe(0);
    expect(e.add("a", 200_000, 200)).toBe(0);
    expect(e.add("a", 201_000, 200)).toBe(200);
  });
});
