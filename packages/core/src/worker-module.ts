/**
 * Where the compiled worker module `name` (e.g. "./md5-worker.js") sits beside the module whose
 * `import.meta.url` is `callerUrl`, for `new Worker(url)`. A worker thread runs JavaScript, so under
 * vitest, which runs the TypeScript sources, the caller's `src/…/x.ts` is mapped to `dist/…`, which
 * the build writes before tests run. (The bundled CLI gives each worker module a bundle of its own,
 * at the same path under its files/.)
 */
export function workerModuleUrl(name: string, callerUrl: string): URL {
  const url = new URL(name, callerUrl);
  if (!callerUrl.endsWith(".ts")) return url;
  const i = url.pathname.lastIndexOf("/src/");
  if (i < 0) throw new Error(`${callerUrl}: a worker's TypeScript source must sit under src/`);
  url.pathname = `${url.pathname.slice(0, i)}/dist/${url.pathname.slice(i + 5)}`;
  return url;
}
