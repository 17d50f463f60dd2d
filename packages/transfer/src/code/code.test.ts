import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generateCode, relayIndexOf, roomC, roomPlanA, roomPlanB } from "./code.js";
import { mnemonicodeWords } from "./mnemonicode.js";
import { MNEMONICODE_WORDS } from "./wordlist.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));
const codes = vectors.codes;

describe("code phrase → rooms (vectors.json codes)", () => {
  it("generation A: 3-byte room, password after byte 5, hashed data rooms", () => {
    const plan = roomPlanA(codes.example_code);
    expect(plan.controlRoom).toBe(codes["genA_room(code[:3])"]);
    expect(plan.password.toString()).toBe(codes["genA_pake_pw(code[5:])"]);
    expect(plan.dataRoom(0)).toBe(codes.genA_data_room_j0);
  });

  it("generation B: SHA-256 room and data rooms with -j", () => {
    const plan = roomPlanB(codes.example_code);
    expect(plan.controlRoom).toBe(codes.genB_room);
    expect(plan.dataRoom(0)).toBe(codes.genB_data_room_j0);
    expect(plan.dataRoom(3)).toBe(`${codes.genB_room}-3`);
    expect(plan.password.toString()).toBe("galileo-collect-fidel");
  });

  it("runpodctl codes keep the relay index in the password", () => {
    const plan = roomPlanA("8338-galileo-collect-fidel-3");
    expect(plan.controlRoom).toBe("833");
    expect(plan.password.toString()).toBe("galileo-collect-fidel-3");
    expect(relayIndexOf("8338-galileo-collect-fidel-3")).toBe(3);
    expect(relayIndexOf("8338-galileo-collect-fidel")).toBeNull();
    expect(relayIndexOf("12")).toBeNull();
  });

  it("refuses codes shorter than 6 bytes", () => {
    expect(() => roomPlanB("12345")).toThrow(/at least 6 bytes/);
  });

  it("recognises croc 11 word codes only", () => {
    expect(roomC("apple-banana-cherry")).toMatch(/^[0-9a-f]{64}$/);
    expect(roomC("8338-galileo-collect-fidel")).toBeNull();
  });
});

describe("mnemonicode (vectors.json)", () => {
  for (const [hex, words] of Object.entries(codes.mnemonicode_4bytes_to_3words)) {
    it(`${hex} → ${(words as string[]).join("-")}`, () => {
      expect(mnemonicodeWords(Buffer.from(hex, "hex"))).toEqual(words);
    });
  }

  it("embedded word list equals the fixture list", () => {
    const fixture = readFileSync(new URL("../../testdata/mnemonicode-words.txt", import.meta.url), "utf8")
      .split("\n")
      .filter(Boolean);
    expect(MNEMONICODE_WORDS).toEqual(fixture.slice(0, 1626));
  });

  it("generated codes look like croc's: digits 0–8 and three list words", () => {
    for (let i = 0; i < 50; i++) {
      const code = generateCode();
      const [digits, ...words] = code.split("-");
      expect(digits).toMatch(/^[0-8]{4}$/);
      expect(words).toHaveLength(3);
      for (const w of words) expect(MNEMONICODE_WORDS).toContain(w);
    }
  });
});
