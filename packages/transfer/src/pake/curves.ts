import {
  type WeierstrassPoint,
  type WeierstrassPointCons,
  weierstrass,
} from "@noble/curves/abstract/weierstrass.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";

/** Curves schollz/pake offers (croc receivers choose; the relay handshake always uses siec). */
export const CURVE_NAMES = ["p256", "p384", "p521", "siec"] as const;
export type CurveName = (typeof CURVE_NAMES)[number];

export type Point = WeierstrassPoint<bigint>;

export interface PakeCurve {
  name: CurveName;
  Point: WeierstrassPointCons<bigint>;
  order: bigint;
  /** pake's fixed points U and V (decimal constants from schollz/pake `initCurve`). */
  U: Point;
  V: Point;
}

/**
 * siec: "super-isolated" curve y² = x³ + 19 over a 255-bit prime with prime order (tscholl2/siec).
 * noble's generic short-Weierstrass arithmetic is checked against croc's vectors for it.
 */
const SiecPoint = weierstrass({
  p: 28948022309329048855892746252183396360603931420023084536990047309120118726721n,
  n: 28948022309329048855892746252183396360263649053102146073526672701688283398081n,
  h: 1n,
  a: 0n,
  b: 19n,
  Gx: 5n,
  Gy: 12n,
});

const UX = 793136080485469241208656611513609866400481671852n;
const VX = 1086685267857089638167386722555472967068468061489n;

function build(
  name: CurveName,
  Point: WeierstrassPointCons<bigint>,
  u: [bigint, bigint],
  v: [bigint, bigint],
): PakeCurve {
  const U = Point.fromAffine({ x: u[0], y: u[1] });
  const V = Point.fromAffine({ x: v[0], y: v[1] });
  U.assertValidity();
  V.assertValidity();
  // Every handshake multiplies G (six relay connections per side and transfer): cache its table. U and V
  // are multiplied once per password (`passwordPoint` keeps the products), so a table for them would
  // cost more than it saves, on the way to the first relay room.
  Point.BASE.precompute(4, false);
  return { name, Point, order: Point.Fn.ORDER, U, V };
}

const cache = new Map<CurveName, PakeCurve>();

function create(name: CurveName): PakeCurve {
  switch (name) {
    case "p256":
      return build(
        name,
        p256.Point,
        [UX, 59748757929350367369315811184980635230185250460108398961713395032485227207304n],
        [VX, 9157340230202296554417312816309453883742349874205386245733062928888341584123n],
      );
    case "p384":
      return build(
        name,
        p384.Point,
        [
          UX,
          7854890799382392388170852325516804266858248936799429260403044177981810983054351714387874260245230531084533936948596n,
        ],
        [
          VX,
          21898206562669911998235297167979083576432197282633635629145270958059347586763418294901448537278960988843108277491616n,
        ],
      );
    case "p521":
      return build(
        name,
        p521.Point,
        [
          UX,
          4032821203812196944795502391345776760852202059010382256134592838722123385325802540879231526503456158741518531456199762365161310489884151533417829496019094620n,
        ],
        [
          VX,
          5010916268086655347194655708160715195931018676225831839835602465999566066450501167246678404591906342753230577187831311039273858772817427392089150297708931207n,
        ],
      );
    case "siec":
      return build(
        name,
        SiecPoint,
        [UX + 1n, 18458907634222644275952014841865282643645472623913459400556233196838128612339n],
        [VX, 19593504966619549205903364028255899745298716108914514072669075231742699650911n],
      );
  }
}

export function getCurve(name: string): PakeCurve {
  if (!(CURVE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unsupported PAKE curve "${name}" (Podkit speaks ${CURVE_NAMES.join(", ")})`);
  }
  const key = name as CurveName;
  let curve = cache.get(key);
  if (!curve) {
    curve = create(key);
    cache.set(key, curve);
  }
  return curve;
}

/**
 * Multiplies by a big-endian byte string the way Go does: siec multiplies by the raw integer and Go's
 * NIST curves reduce it mod n first — the resulting point is the same either way.
 */
export function multiply(curve: PakeCurve, point: Point, scalarBytes: Uint8Array): Point {
  const k = bytesToBigInt(scalarBytes) % curve.order;
  if (k === 0n) return curve.Point.ZERO;
  return point.multiply(k);
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** Go's `big.Int.Bytes()`: minimal big-endian, empty for zero. */
export function bigIntToMinimalBytes(value: bigint): Buffer {
  if (value === 0n) return Buffer.alloc(0);
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

const PASSWORD_POINTS_KEPT = 32;
const passwordPoints = new Map<string, Point>();

/**
 * pw·U or pw·V. The relay handshake always uses the same password (01 02 03) and a transfer reuses its
 * code for every connection, so these products are cached: it saves two of a handshake's three
 * expensive multiplications. Only a few recent entries are kept.
 */
export function passwordPoint(curve: PakeCurve, which: "U" | "V", pw: Uint8Array): Point {
  const key = `${curve.name}:${which}:${Buffer.from(pw).toString("hex")}`;
  let point = passwordPoints.get(key);
  if (!point) {
    point = multiply(curve, curve[which], pw);
    if (passwordPoints.size >= PASSWORD_POINTS_KEPT)
      passwordPoints.delete(passwordPoints.keys().next().value as string);
    passwordPoints.set(key, point);
  }
  return point;
}
