"use strict";
// The podkit launcher: answers `--version` itself, and otherwise runs the CLI's bundle (app.cjs)
// through a V8 code cache kept per build and user (Node 20 has no built-in compile cache), so
// start-up skips parsing megabytes of JavaScript. It also tells the bundle where its files
// (native addons, data) live: beside it in the npm package; inside the single executable they
// are assets, written once to the per-build cache directory and loaded from there.
//
// V8 flags are set where the process starts, never flipped at run time: the npm package's and the
// workspace build's `podkit` start `node --expose-gc` (their shebang), so the S3 gateway and the
// transfer loops can pace their collections (core's gc.ts). The single executable takes no Node
// flags on its command line, and Node 20's SEA config has no `execArgv` (later Node versions add
// one): it runs without `gc` (somewhat more memory in long transfers and uploads). NODE_OPTIONS
// =--expose-gc does reach it, but then V8 rejects the code cache built into the executable (made
// without the flag) and warns "Code cache data rejected" at every start.
const VERSION = __PODKIT_VERSION__;
const BUILD_ID = __PODKIT_BUILD_ID__;
const FILES = __PODKIT_FILES__; // { "native/x.node": size, … }: what files/ holds

// node:cluster starts a worker as `execPath <script> args…`; in the single executable the script is
// the executable itself, which would otherwise arrive as the command's first argument.
// Only a forked process has an IPC channel: ordinary starts skip the checks.
if (
  process.channel &&
  process.argv[2] &&
  require("node:cluster").isWorker &&
  isThisExecutable(process.argv[2])
) {
  process.argv.splice(2, 1);
}
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // Before any module loads: scripts ask for the version often, and it should cost no more than node.
  process.stdout.write(`${VERSION}\n`);
} else {
  launch();
}

function launch() {
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");
  const { pathToFileURL } = require("node:url");
  const vm = require("node:vm");

  let sea = false;
  try {
    sea = require("node:sea").isSea();
  } catch {
    // Node without SEA support: not a single executable
  }

  let root;
  let cache;

  /** A directory only this user can write: anything else could plant code we would load. */
  function privateDir(dir) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) {
      throw new Error(
        `podkit: ${dir} is not a private directory of this user; remove it or set XDG_CACHE_HOME`,
      );
    }
    return dir;
  }

  function cacheBase() {
    if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, "podkit");
    const home = os.homedir();
    try {
      fs.accessSync(home, fs.constants.W_OK);
      return path.join(home, ".cache", "podkit");
    } catch {
      // no writable home (a system user): a per-user directory under the temporary directory
      return path.join(os.tmpdir(), `podkit-${process.getuid ? process.getuid() : "user"}`);
    }
  }

  function complete(dir) {
    return Object.entries(FILES).every(([rel, size]) => {
      try {
        return fs.statSync(path.join(dir, rel)).size === size;
      } catch {
        return false;
      }
    });
  }

  /** This build's private cache directory (code cache; the single executable's files). */
  function cacheDir() {
    if (cache === undefined) {
      const base = privateDir(cacheBase());
      cache = privateDir(path.join(base, BUILD_ID));
    }
    return cache;
  }

  /** Write a file whole or not at all: a concurrent podkit never reads half of one. */
  function writeAtomic(file, data) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  function extract() {
    const dir = path.join(cacheDir(), "files");
    if (complete(dir)) return dir;
    const { getAsset } = require("node:sea");
    for (const rel of Object.keys(FILES)) {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeAtomic(file, new Uint8Array(getAsset(rel)));
    }
    return dir;
  }

  function filesRoot() {
    root ??= sea ? extract() : path.join(__dirname, "files");
    return root;
  }

  globalThis.__podkitBundle = {
    sea,
    /** The script that started this process (for the single executable: the executable itself). */
    script: sea ? process.execPath : fs.realpathSync(process.argv[1] || __filename),
    filesRoot,
  };

  /** `import.meta.url` of a workspace module, as if its file sat under the bundle's files. */
  function __podkitFileUrl(rel) {
    return pathToFileURL(path.join(filesRoot(), rel)).href;
  }

  /** A native addon shipped with the bundle. */
  function __podkitAddon(name) {
    const mod = { exports: {} };
    process.dlopen(mod, path.join(filesRoot(), "native", name));
    return mod.exports;
  }

  /**
   * V8 rejects a code cache made under other flags: the S3 gateway's workers start with a smaller
   * young generation, and a user may set NODE_OPTIONS. One cache per set of Node flags, so
   * processes started differently neither compile the bundle from source every time nor keep
   * replacing each other's cache.
   */
  function flagsTag() {
    const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join("\0");
    return require("node:crypto").createHash("sha256").update(flags).digest("hex").slice(0, 16);
  }

  /** Run app.cjs like a CommonJS module, compiled from (or, the first time, into) the code cache. */
  function runApp() {
    const source = sea
      ? require("node:sea").getAsset("app.cjs", "utf8")
      : fs.readFileSync(path.join(__dirname, "app.cjs"), "utf8");
    const filename = sea ? `${process.execPath}/app.cjs` : path.join(__dirname, "app.cjs");
    let cacheFile;
    let cachedData;
    try {
      cacheFile = path.join(cacheDir(), `app.cjs.${flagsTag()}.cache`);
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      // first run of this build, or no writable cache directory: compile from source
    }
    const script = new vm.Script(
      `(function (exports, require, module, __filename, __dirname, __podkitFileUrl, __podkitAddon) {${source}\n})`,
      { filename, cachedData },
    );
    if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
      // At exit the cache also holds every function this run compiled, not just the top level.
      process.once("exit", () => {
        try {
          writeAtomic(cacheFile, script.createCachedData());
        } catch {
          // a read-only cache only costs speed
        }
      });
    }
    const mod = { exports: {} };
    script
      .runInThisContext()
      .call(
        mod.exports,
        mod.exports,
        require,
        mod,
        filename,
        path.dirname(filename),
        __podkitFileUrl,
        __podkitAddon,
      );
  }

  runApp();
}

function isThisExecutable(arg) {
  try {
    const fs = require("node:fs");
    return require("node:sea").isSea() && fs.realpathSync(arg) === fs.realpathSync(process.execPath);
  } catch {
    return false; // not a path, or a Node without SEA support
  }
}
