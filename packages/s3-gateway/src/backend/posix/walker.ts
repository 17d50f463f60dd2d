import { type Dirent, realpathSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ListEntry, ListQuery } from "../types.js";
import { isInside } from "./files.js";
import { compareKeys, RESERVED_DIR } from "./keys.js";

interface Item {
  key: string;
  isDir: boolean;
}

export interface WalkContext {
  bucketDir: string;
  /** Is this directory an explicit `dir/` marker object (it is listed even when not empty)? */
  isMarked: (dirKey: string, absDir: string) => Promise<boolean>;
}

/**
 * Directory listings sorted in S3 byte order are cached per directory while the directory's
 * mtime stays the same, so paging through a huge directory does not re-sort it for every
 * page. Only directories untouched for a while are cached (mtime has coarse ticks).
 */
const CACHE_MIN_ENTRIES = 2000;
/** Bound on the names held by the cache in total (about 100 bytes each), to keep RSS small. */
const CACHE_MAX_ENTRIES = 300_000;
const CACHE_QUIET_MS = 2000;
const sortedCache = new Map<string, { mtimeMs: number; items: Item[]; rawCount: number }>();
let cachedEntries = 0;

function remember(absDir: string, listing: { mtimeMs: number; items: Item[]; rawCount: number }): void {
  if (listing.items.length > CACHE_MAX_ENTRIES) return;
  const previous = sortedCache.get(absDir);
  if (previous) {
    cachedEntries -= previous.items.length;
    sortedCache.delete(absDir);
  }
  // Evict oldest-first until the new listing fits.
  for (const [dir, entry] of sortedCache) {
    if (cachedEntries + listing.items.length <= CACHE_MAX_ENTRIES) break;
    sortedCache.delete(dir);
    cachedEntries -= entry.items.length;
  }
  sortedCache.set(absDir, listing);
  cachedEntries += listing.items.length;
}

async function sortedEntries(
  absDir: string,
  relDir: string,
  ctx: WalkContext,
): Promise<{ items: Item[]; rawCount: number } | undefined> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(absDir)).mtimeMs;
  } catch {
    return undefined;
  }
  const cached = sortedCache.get(absDir);
  if (cached && cached.mtimeMs === mtimeMs) return cached;
  let entries: Dirent[];
  try {
    entries = await readdir(absDir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  const items: Item[] = [];
  for (const entry of entries) {
    if (relDir === "" && entry.name === RESERVED_DIR) continue;
    let isDir = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      // Follow links only when they stay inside the volume; others are not objects.
      try {
        const target = realpathSync(join(absDir, entry.name));
        if (!isInside(ctx.bucketDir, target)) continue;
        const info = await stat(target);
        if (!info.isDirectory() && !info.isFile()) continue;
        isDir = info.isDirectory();
      } catch {
        continue;
      }
    } else if (!isDir && !entry.isFile()) {
      continue;
    }
    const key = relDir + entry.name + (isDir ? "/" : "");
    items.push({ key, isDir });
  }
  items.sort((a, b) => compareKeys(a.key, b.key));
  const result = { mtimeMs, items, rawCount: entries.length };
  if (items.length >= CACHE_MIN_ENTRIES && Date.now() - mtimeMs > CACHE_QUIET_MS) remember(absDir, result);
  return result;
}

/** The directory that holds every key with this prefix: the prefix up to its last "/". */
export function startDirectory(prefix: string): string | undefined {
  const dir = prefix.slice(0, prefix.lastIndexOf("/") + 1);
  if (dir === "") return "";
  const segments = dir.slice(0, -1).split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"))) {
    return undefined; // no key can live there
  }
  if (segments[0] === RESERVED_DIR) return undefined;
  return dir;
}

/** First index in sorted items whose key is > after, by binary search. */
function firstAfter(items: readonly Item[], after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(items[mid]!.key, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Walk a bucket's tree in S3 byte order (directory names compare with "/" appended), starting
 * in the deepest directory the prefix implies and skipping every subtree before `after`. With
 * delimiter "/", directories are returned as common prefixes without being entered. Nothing is
 * stat'ed here except symlinks; callers describe only the keys they return.
 */
export async function* walkKeys(ctx: WalkContext, query: ListQuery): AsyncGenerator<ListEntry> {
  const start = startDirectory(query.prefix);
  if (start === undefined) return;
  const startAbs = join(ctx.bucketDir, ...start.split("/").filter(Boolean));
  try {
    if (!isInside(ctx.bucketDir, realpathSync(startAbs))) return;
  } catch {
    return;
  }
  const after = query.after;
  const slash = query.delimiter === "/";
  yield* walkDirectory(ctx, start, startAbs, true, query.prefix, after, slash);
}

async function* walkDirectory(
  ctx: WalkContext,
  relDir: string,
  absDir: string,
  isStart: boolean,
  prefix: string,
  after: string,
  slash: boolean,
): AsyncGenerator<ListEntry> {
  const listing = await sortedEntries(absDir, relDir, ctx);
  if (!listing) return;
  // The directory itself is an object ("dir/") when it is empty or was created as a marker.
  if (relDir !== "" && (!isStart || relDir.startsWith(prefix)) && compareKeys(relDir, after) > 0) {
    if (listing.rawCount === 0 || (await ctx.isMarked(relDir, absDir))) yield { kind: "object", key: relDir };
  }
  const afterText = after;
  // Subtrees wholly before `after` are skipped; the one containing `after` is entered.
  let index = firstAfter(listing.items, after);
  while (index > 0) {
    const previous = listing.items[index - 1]!;
    if (previous.isDir && afterText.startsWith(previous.key)) index -= 1;
    else break;
  }
  for (let i = index; i < listing.items.length; i++) {
    const item = listing.items[i]!;
    if (isStart && !item.key.startsWith(prefix)) {
      if (compareKeys(item.key, prefix) > 0) break;
      continue;
    }
    if (!item.isDir) {
      yield { kind: "object", key: item.key };
      continue;
    }
    if (slash) {
      if (!afterText.startsWith(item.key)) yield { kind: "prefix", prefix: item.key };
      continue;
    }
    yield* walkDirectory(
      ctx,
      item.key,
      join(absDir, item.key.slice(relDir.length, -1)),
      false,
      prefix,
      after,
      slash,
    );
  }
}
