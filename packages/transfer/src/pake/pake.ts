import { createHash, randomBytes } from "node:crypto";
import { PodkitError } from "@podkit/core";
import { parse } from "lossless-json";
import {
  bigIntToMinimalBytes,
  CURVE_NAMES,
  type CurveName,
  getCurve,
  multiply,
  type PakeCurve,
  type Point,
  passwordPoint,
} from "./curves.js";

export class PakeError extends PodkitError<"E_PAKE"> {
  constructor(message: string) {
    super("E_PAKE", message);
  }
}

/** 0 = "A", the side that speaks first (croc receiver, relay client); 1 = "B" (croc sender, relay). */
export type PakeRole = 0 | 1;

/** Go field names of `pake.Pake`, in Go's order, as `json.Marshal` writes them (raw UTF-8). */
const FIELD_ORDER = [
  "Role",
  "Uᵤ",
  "Uᵥ",
  "Vᵤ",
  "Vᵥ",
  "Xᵤ",
  "Xᵥ",
  "Yᵤ",
  "Yᵥ",
  "P",
  "Pw",
  "Vpwᵤ",
  "Vpwᵥ",
  "Upwᵤ",
  "Upwᵥ",
  "Aα",
  "Aαᵤ",
  "Aαᵥ",
  "Zᵤ",
  "Zᵥ",
  "K",
] as const;

/**
 * schollz/pake v3 (SPAKE2-style, no key confirmation). One instance per handshake:
 * role 0 builds X in the constructor; role 1 answers with Y in `update`; role 0 then reads Y.
 * The session key is SHA-256(pw ‖ X ‖ Y ‖ Z) over minimal big-endian coordinates.
 */
export class Pake {
  readonly role: PakeRole;
  readonly curve: PakeCurve;
  private readonly pw: Buffer;
  private readonly alpha: Buffer;
  private X: Point | null = null;
  private Y: Point | null = null;
  private key: Buffer | null = null;

  /** `alpha` is the secret scalar (32 random bytes unless a test pins it). */
  constructor(pw: Uint8Array, role: PakeRole, curveName: string, alpha: Uint8Array = randomBytes(32)) {
    this.role = role;
    this.curve = getCurve(curveName);
    this.pw = Buffer.from(pw);
    this.alpha = Buffer.from(alpha);
    if (role === 0) {
      this.X = passwordPoint(this.curve, "U", this.pw).add(
        multiply(this.curve, this.curve.Point.BASE, this.alpha),
      );
    }
  }

  get sessionKey(): Buffer {
    if (!this.key) throw new PakeError("PAKE session key not established yet");
    return this.key;
  }

  /** The public values as Go's `json.Marshal(p.Public())` writes them. */
  bytes(): Buffer {
    const x = this.X?.toAffine();
    const y = this.Y?.toAffine();
    const values: Record<string, bigint | number | undefined> = {
      Role: this.role,
      Uᵤ: this.role === 0 || this.Y ? this.curve.U.toAffine().x : undefined,
      Uᵥ: this.role === 0 || this.Y ? this.curve.U.toAffine().y : undefined,
      Vᵤ: this.role === 0 || this.Y ? this.curve.V.toAffine().x : undefined,
      Vᵥ: this.role === 0 || this.Y ? this.curve.V.toAffine().y : undefined,
      Xᵤ: x?.x,
      Xᵥ: x?.y,
      Yᵤ: y?.x,
      Yᵥ: y?.y,
    };
    const body = FIELD_ORDER.map(
      (k) => `"${k}":${values[k] === undefined ? "null" : String(values[k])}`,
    ).join(",");
    return Buffer.from(`{${body}}`, "utf8");
  }

  /** Takes the peer's PAKE JSON; role 1 computes Y and the key, role 0 computes the key. */
  update(peerJson: Uint8Array): void {
    const peer = parsePakeJson(peerJson);
    if (peer.Role === this.role) throw new PakeError("peer claims our own PAKE role");
    if (this.role === 1) {
      // Go copies U and V from the peer. Taking attacker-chosen U/V would allow an offline
      // dictionary attack, so require pake's published constants (every real peer sends them).
      this.requireConstant(peer, "U", this.curve.U);
      this.requireConstant(peer, "V", this.curve.V);
      this.X = this.point(peer, "X");
      const beta = this.alpha;
      this.Y = passwordPoint(this.curve, "V", this.pw).add(multiply(this.curve, this.curve.Point.BASE, beta));
      const z = multiply(this.curve, this.X.subtract(passwordPoint(this.curve, "U", this.pw)), beta);
      this.key = this.hashKey(z);
    } else {
      this.Y = this.point(peer, "Y");
      const z = multiply(this.curve, this.Y.subtract(passwordPoint(this.curve, "V", this.pw)), this.alpha);
      this.key = this.hashKey(z);
    }
  }

  private requireConstant(peer: PakeJson, name: "U" | "V", expected: Point): void {
    const x = peer[`${name}ᵤ`];
    const y = peer[`${name}ᵥ`];
    if (x === undefined && y === undefined) return;
    const e = expected.toAffine();
    if (x !== e.x || y !== e.y) throw new PakeError(`peer sent a non-standard PAKE point ${name}`);
  }

  private point(peer: PakeJson, name: "X" | "Y"): Point {
    const x = peer[`${name}ᵤ`];
    const y = peer[`${name}ᵥ`];
    if (typeof x !== "bigint" || typeof y !== "bigint") throw new PakeError(`PAKE message lacks ${name}`);
    try {
      const p = this.curve.Point.fromAffine({ x, y });
      p.assertValidity();
      return p;
    } catch {
      throw new PakeError(`PAKE point ${name} is not on curve ${this.curve.name}`);
    }
  }

  private hashKey(z: Point): Buffer {
    if (!this.X || !this.Y) throw new PakeError("PAKE incomplete");
    const h = createHash("sha256").update(this.pw);
    for (const p of [this.X, this.Y, z]) {
      // Go represents infinity as (0, 0); noble refuses to make it affine.
      const a = p.is0() ? { x: 0n, y: 0n } : p.toAffine();
      h.update(bigIntToMinimalBytes(a.x)).update(bigIntToMinimalBytes(a.y));
    }
    return h.digest();
  }
}

type PakeJson = Record<string, bigint | number | null | undefined>;

/** Go decodes struct fields case-insensitively; big integers must stay exact, so no JSON.parse. */
export function parsePakeJson(json: Uint8Array): PakeJson & { Role: number } {
  let parsed: unknown;
  try {
    parsed = parse(Buffer.from(json).toString("utf8"), null, (text: string) => BigInt(text));
  } catch (err) {
    throw new PakeError(`malformed PAKE message: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new PakeError("malformed PAKE message");
  const out: PakeJson = {};
  const canonical = new Map(FIELD_ORDER.map((k) => [k.toLowerCase(), k]));
  for (const [key, value] of Object.entries(parsed)) {
    const name = canonical.get(key.toLowerCase());
    if (!name) continue;
    if (value !== null && typeof value !== "bigint")
      throw new PakeError(`PAKE field ${name} is not a number`);
    out[name] = value as bigint | null;
  }
  const role = out.Role;
  if (role !== 0n && role !== 1n) throw new PakeError("PAKE message has no valid Role");
  return { ...out, Role: Number(role) };
}

/**
 * The curve a peer's role-0 PAKE message is on, told by the fixed point U it carries (each curve has
 * its own). croc 10's `pake1` probe names no curve: the receiver runs it on its own `--curve`.
 */
export function curveOfPeerPake(peerJson: Uint8Array): CurveName | null {
  const peer = parsePakeJson(peerJson);
  return (
    CURVE_NAMES.find((name) => {
      const u = getCurve(name).U.toAffine();
      return peer.Uᵤ === u.x && peer.Uᵥ === u.y;
    }) ?? null
  );
}
