import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { getCurve, multiply } from "./curves.js";
import { curveOfPeerPake, Pake, PakeError } from "./pake.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));

describe("curve math (vectors.json curve_math)", () => {
  it("siec and P-256 scalar base multiplication by 0x010203", () => {
    for (const name of ["siec", "p256"] as const) {
      const c = getCurve(name);
      const p = multiply(c, c.Point.BASE, Buffer.from("010203", "hex")).toAffine();
      expect([p.x.toString(), p.y.toString()]).toEqual(vectors.curve_math[`${name}_ScalarBaseMult_010203`]);
    }
  });

  it("siec parameters match", () => {
    const params = vectors.curve_math.siec_params;
    const c = getCurve("siec");
    expect(c.order.toString()).toBe(params.N);
    expect(c.Point.BASE.toAffine()).toEqual({ x: BigInt(params.Gx), y: BigInt(params.Gy) });
  });

  it("every curve's U and V lie on it", () => {
    for (const name of ["p256", "p384", "p521", "siec"]) expect(() => getCurve(name)).not.toThrow();
    expect(() => getCurve("ed25519")).toThrow(/unsupported PAKE curve/);
  });
});

describe("PAKE known answers (vectors.json pake)", () => {
  for (const v of vectors.pake) {
    it(`${v.curve} with password ${JSON.stringify(v.pw_str)}`, () => {
      const pw = Buffer.from(v.pw_hex, "hex");
      const a = new Pake(pw, 0, v.curve, Buffer.from(v.alphaA_hex, "hex"));
      expect(a.bytes().toString("utf8")).toBe(v.A_bytes_json);
      const b = new Pake(pw, 1, v.curve, Buffer.from(v.alphaB_hex, "hex"));
      b.update(Buffer.from(v.A_bytes_json, "utf8"));
      expect(b.bytes().toString("utf8")).toBe(v.B_bytes_json);
      expect(b.sessionKey.toString("hex")).toBe(v.session_key_hex);
      a.update(Buffer.from(v.B_bytes_json, "utf8"));
      expect(a.sessionKey.toString("hex")).toBe(v.session_key_hex);
    });
  }

  it("different passwords give different keys (wrong code)", () => {
    const a = new Pake(Buffer.from("galileo-collect-fidel"), 0, "p256");
    const b = new Pake(Buffer.from("galileo-collect-fidex"), 1, "p256");
    b.update(a.bytes());
    a.update(b.bytes());
    expect(a.sessionKey.equals(b.sessionKey)).toBe(false);
  });

  it("p384 and p521 agree between roles", () => {
    for (const curve of ["p384", "p521"]) {
      const a = new Pake(Buffer.from("pw-123"), 0, curve);
      const b = new Pake(Buffer.from("pw-123"), 1, curve);
      b.update(a.bytes());
      a.update(b.bytes());
      expect(a.sessionKey.equals(b.sessionKey)).toBe(true);
    }
  });

  it("rejects off-curve points, own role, forged U, quoted numbers", () => {
    const v = vectors.pake[1];
    const b = () => new Pake(Buffer.from(v.pw_hex, "hex"), 1, v.curve);
    expect(() => b().update(Buffer.from(v.A_bytes_json.replace(/"Xᵥ":\d+/, '"Xᵥ":5')))).toThrow(
      /not on curve/,
    );
    expect(() => b().update(Buffer.from(v.B_bytes_json))).toThrow(/own PAKE role/);
    expect(() => b().update(Buffer.from(v.A_bytes_json.replace(/"Uᵥ":\d+/, `"Uᵥ":${v.X[1]}`)))).toThrow(
      PakeError,
    );
    expect(() => b().update(Buffer.from(v.A_bytes_json.replace(/"Xᵤ":(\d+)/, '"Xᵤ":"$1"')))).toThrow(
      /not a number/,
    );
    expect(() => b().update(Buffer.from("not json"))).toThrow(/malformed/);
  });

  it("accepts Go's case-insensitive keys", () => {
    const v = vectors.pake[1];
    const b = new Pake(Buffer.from(v.pw_hex, "hex"), 1, v.curve, Buffer.from(v.alphaB_hex, "hex"));
    b.update(Buffer.from(v.A_bytes_json.replace('"Role"', '"role"')));
    expect(b.sessionKey.toString("hex")).toBe(v.session_key_hex);
  });

  it("tells a role-0 message's curve from its U point (croc's pake1 probe names none)", () => {
    for (const v of vectors.pake) expect(curveOfPeerPake(Buffer.from(v.A_bytes_json))).toBe(v.curve);
    for (const curve of ["p256", "p384", "p521", "siec"])
      expect(curveOfPeerPake(new Pake(Buffer.from("pw"), 0, curve).bytes())).toBe(curve);
    const forged = vectors.pake[0].A_bytes_json.replace(/"Uᵤ":\d+/, '"Uᵤ":5');
    expect(curveOfPeerPake(Buffer.from(forged))).toBeNull();
  });
});
