// Bundles the podkit CLI into one CommonJS file (what the npm package and the single executable
// run), with its native addons and data files beside it under files/. Each command area stays a
// lazily evaluated part of the bundle, so `podkit --version` runs none of them.
//
//   node apps/cli/bundle/build.mjs [outdir]    (default apps/cli/dist/bundle)
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const repo = resolve(cliDir, "../..");
const outDir = resolve(process.argv[2] ?? join(cliDir, "dist/bundle"));
const { version } = JSON.parse(readFileSync(join(cliDir, "package.json"), "utf8"));

/** Data files read at run time through `new URL(…, import.meta.url)`, shipped under files/. */
const DATA_DIRS = ["packages/host-agent/data"];

/**
 * Which module of @podkit/core defines each name its entry re-exports. Every command area imports
 * the entry, which would initialise every core module (all zod schemas, pino) even for `--help`;
 * the bundle imports each name from its own module instead.
 */
const coreDist = join(repo, "packages/core/dist");
const coreExports = new Map();
for (const [, file] of readFileSync(join(coreDist, "index.js"), "utf8").matchAll(
  /export \* from "(\.[^"]+)";/g,
)) {
  const path = join(coreDist, file);
  for (const name of Object.keys(await import(pathToFileURL(path).href))) coreExports.set(name, path);
}

function splitCoreImports(code) {
  return code.replace(/import \{([^}]*)\} from "@podkit\/core";/g, (whole, names) => {
    const byModule = new Map();
    for (const spec of names
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const module = coreExports.get(spec.split(/\s+as\s+/)[0]);
      if (!module) return whole; // not a name the entry re-exports: leave the import alone
      byModule.set(module, [...(byModule.get(module) ?? []), spec]);
    }
    return [...byModule]
      .map(([m, specs]) => `import { ${specs.join(", ")} } from ${JSON.stringify(m)};`)
      .join(" ");
  });
}

/** Worker modules (`new Worker(workerModuleUrl("./x.js", import.meta.url))`), by path under the repo. */
const workers = new Set();

/** Addons the bundle loads, by the name their JS asks for; collected while bundling. */
const addons = new Map();
function addon(name, file) {
  const prior = addons.get(name);
  if (prior && prior !== file) throw new Error(`two native addons named ${name}: ${prior}, ${file}`);
  addons.set(name, file);
  return `module.exports = __podkitAddon(${JSON.stringify(name)});`;
}

const requireFrom = (file) => createRequire(file);
const sqliteDir = dirname(
  requireFrom(join(repo, "apps/control-plane/package.json")).resolve("better-sqlite3/package.json"),
);

/** Rewrites what a single file cannot carry: `.node` addons, `bindings`, `import.meta.url`. */
const podkitPlugin = {
  name: "podkit-bundle",
  setup(b) {
    // Addons for other platforms, tried one by one in try blocks: fail inside the bundle, without
    // asking the single executable's require (which only knows built-ins, and warns).
    b.onResolve({ filter: /\.node$/ }, (args) =>
      existsSync(resolve(args.resolveDir, args.path)) || !args.path.startsWith(".")
        ? undefined
        : { path: args.path, namespace: "podkit-absent" },
    );
    // Optional speed-ups that ws and pg try to require; podkit ships without them.
    b.onResolve({ filter: /^(bufferutil|utf-8-validate|pg-native)$/ }, (args) => ({
      path: args.path,
      namespace: "podkit-absent",
    }));
    b.onLoad({ filter: /.*/, namespace: "podkit-absent" }, (args) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`${args.path} is not part of this build`)}), { code: "MODULE_NOT_FOUND" });`,
      loader: "js",
    }));
    b.onLoad({ filter: /\.node$/ }, (args) => ({
      contents: addon(args.path.split("/").pop(), args.path),
      loader: "js",
    }));
    // better-sqlite3 finds its addon with `bindings`, which searches directories at run time.
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: "bindings", namespace: "podkit-bindings" }));
    b.onLoad({ filter: /.*/, namespace: "podkit-bindings" }, () => {
      addon("better_sqlite3.node", join(sqliteDir, "build/Release/better_sqlite3.node"));
      return { contents: "module.exports = (name) => __podkitAddon(name);", loader: "js" };
    });
    // Workspace modules locate files relative to themselves: point them into files/.
    b.onLoad({ filter: /\/(packages|apps)\/[^/]+\/dist\/.*\.js$/ }, (args) => {
      let contents = readFileSync(args.path, "utf8");
      if (!args.path.startsWith(repo) || args.path.includes("/node_modules/")) return undefined;
      const rel = relative(repo, args.path);
      // A worker thread's module gets a bundle of its own, at the same path under files/.
      for (const [, name] of contents.matchAll(/workerModuleUrl\("(\.[^"]+)", import\.meta\.url\)/g)) {
        workers.add(relative(repo, resolve(dirname(args.path), name)));
      }
      // A synchronous lazy load (`createRequire(import.meta.url)("yaml")`): bundle the module instead.
      contents = contents.replace(/createRequire\(import\.meta\.url\)\(("[^"]+")\)/g, "require($1)");
      if (/createRequire\(import\.meta\.url\)/.test(contents)) {
        throw new Error(`${rel}: createRequire(import.meta.url) cannot find modules from the bundle`);
      }
      contents = contents.replaceAll("import.meta.url", `__podkitFileUrl(${JSON.stringify(rel)})`);
      contents = splitCoreImports(contents);
      return { contents, loader: "js" };
    });
  },
};

rmSync(outDir, { recursive: true, force: true });
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  write: false,
  logLevel: "warning",
  legalComments: "none",
};
const main = await build({
  ...common,
  entryPoints: [join(cliDir, "dist/main.js")],
  plugins: [podkitPlugin],
  define: { __PODKIT_VERSION__: JSON.stringify(version) },
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
});

// Each worker module as a CommonJS bundle of its own: a worker thread loads a file, and
// `import.meta.url` in the main bundle points into files/ (see runtime.cjs). The helpers the
// plugin's rewrites call are defined relative to the worker's own place under files/.
const workerBundles = [];
for (const rel of workers) {
  const up = JSON.stringify(relative(dirname(rel), ".") || ".");
  const out = await build({
    ...common,
    entryPoints: [join(repo, rel)],
    plugins: [podkitPlugin],
    banner: {
      js: `const __podkitFiles=require("node:path").join(__dirname,${up});function __podkitAddon(n){const m={exports:{}};process.dlopen(m,require("node:path").join(__podkitFiles,"native",n));return m.exports;}function __podkitFileUrl(r){return require("node:url").pathToFileURL(require("node:path").join(__podkitFiles,r)).href;}`,
    },
  });
  workerBundles.push([rel, out.outputFiles[0].text]);
}
if (workers.size === 0) throw new Error("no worker modules found: did workerModuleUrl change?");

const files = join(outDir, "files");
mkdirSync(join(files, "native"), { recursive: true });
for (const [name, file] of addons) cpSync(file, join(files, "native", name));
for (const [rel, text] of workerBundles) {
  mkdirSync(join(files, dirname(rel)), { recursive: true });
  writeFileSync(join(files, rel), text);
}
// The worker bundles are CommonJS whatever package.json a directory above files/ holds.
writeFileSync(join(files, "package.json"), '{ "type": "commonjs" }\n');
for (const dir of DATA_DIRS) cpSync(join(repo, dir), join(files, dir), { recursive: true });

const manifest = {};
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else manifest[relative(files, file)] = statSync(file).size;
  }
};
walk(files);
const hash = createHash("sha256");
for (const rel of Object.keys(manifest).sort()) hash.update(rel).update(readFileSync(join(files, rel)));
const bundleText = main.outputFiles[0].text.replace(/^#!.*\n/, "");
hash.update(bundleText);
const buildId = `${version}-${hash.digest("hex").slice(0, 12)}`;

const launcher = readFileSync(join(cliDir, "bundle/runtime.cjs"), "utf8")
  .replace("__PODKIT_VERSION__", JSON.stringify(version))
  .replace("__PODKIT_BUILD_ID__", JSON.stringify(buildId))
  .replace("__PODKIT_FILES__", JSON.stringify(manifest));
writeFileSync(join(outDir, "app.cjs"), bundleText);
// V8 flags go on the command line where the process starts (see runtime.cjs); env -S splits them.
writeFileSync(join(outDir, "podkit.cjs"), `#!/usr/bin/env -S node --expose-gc\n${launcher}`, { mode: 0o755 });
// The single executable's main script: no shebang (it is compiled as a function body).
writeFileSync(join(outDir, "podkit-sea.cjs"), launcher);
writeFileSync(join(outDir, "files.json"), `${JSON.stringify({ buildId, files: manifest }, null, 2)}\n`);
const kib = (n) => `${Math.round(n / 1024)} KiB`;
console.log(
  `bundle: ${relative(repo, outDir)}/podkit.cjs + app.cjs ${kib(bundleText.length)}, ${Object.keys(manifest).length} files (${[...addons.keys()].join(", ")})`,
);
