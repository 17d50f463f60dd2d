// `pnpm package`: the release artifacts under dist/release/, from the bundle `pnpm build` makes
// (apps/cli/dist/bundle):
//   podkit-<version>-linux-x64   single executable (Node's single-executable applications)
//   podkit_<version>_amd64.deb   /usr/bin/podkit and the agent's systemd unit
//   podkit-<version>.tgz         npm package: `npm install -g ./podkit-<version>.tgz`
//   SHA256SUMS
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cliDir = join(repo, "apps/cli");
const bundle = join(cliDir, "dist/bundle");
const release = join(repo, "dist/release");
const work = join(repo, "dist/package-work");
const { version, description } = JSON.parse(readFileSync(join(cliDir, "package.json"), "utf8"));
const { files: bundleFiles } = JSON.parse(readFileSync(join(bundle, "files.json"), "utf8"));
// The agent's unit, exactly as `podkit agent install` writes it for /usr/bin/podkit.
const { unitText } = await import(join(repo, "packages/host-agent/dist/systemd.js"));

if (process.platform !== "linux" || process.arch !== "x64") {
  throw new Error(
    `the release artifacts are built for linux-x64 (this is ${process.platform}-${process.arch})`,
  );
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"], ...options });
  if (r.error || r.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${r.error?.message ?? `exit ${r.status}`}`);
  }
  return r;
}

rmSync(release, { recursive: true, force: true });
rmSync(work, { recursive: true, force: true });
mkdirSync(release, { recursive: true });
mkdirSync(work, { recursive: true });

// 1. Single executable: this node binary with the launcher as main script (V8 code cache built
// in), the bundle and its files (native addons, data) as assets.
const exe = join(release, `podkit-${version}-linux-x64`);
const assets = { "app.cjs": join(bundle, "app.cjs") };
for (const rel of Object.keys(bundleFiles)) assets[rel] = join(bundle, "files", rel);
const seaConfig = join(work, "sea-config.json");
const blob = join(work, "sea.blob");
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: join(bundle, "podkit-sea.cjs"),
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets,
  }),
);
run(process.execPath, ["--experimental-sea-config", seaConfig]);
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
const postject = createRequire(join(cliDir, "package.json")).resolve("postject/dist/cli.js");
run(
  process.execPath,
  [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
  { stdio: ["ignore", "ignore", "pipe"] },
); // its ELF notes warnings are harmless

// 2. Debian package. The unit is installed but neither enabled nor started: enrolment
// (`podkit agent install --control-plane … --token …`) writes the config and starts it.
const deb = join(work, "deb");
const unitDir = join(deb, "lib/systemd/system");
mkdirSync(join(deb, "DEBIAN"), { recursive: true });
mkdirSync(join(deb, "usr/bin"), { recursive: true });
mkdirSync(unitDir, { recursive: true });
copyFileSync(exe, join(deb, "usr/bin/podkit"));
chmodSync(join(deb, "usr/bin/podkit"), 0o755);
writeFileSync(join(unitDir, "podkit-agent.service"), unitText("/usr/bin/podkit"), { mode: 0o644 });
const installedKiB = Math.ceil((statSync(exe).size + 4096) / 1024);
writeFileSync(
  join(deb, "DEBIAN/control"),
  `Package: podkit
Version: ${version}
Architecture: amd64
Maintainer: Podkit maintainers <maintainers@podkit.invalid>
Installed-Size: ${installedKiB}
Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1
Section: admin
Priority: optional
Homepage: https://github.com/podkit/podkit
Description: ${description.replace(/\.$/, "")}
 The podkit command as one program (Node.js built in): the host agent and its
 systemd unit (enabled by \`podkit agent install\`), the control plane, the S3
 gateway, croc-compatible transfers and the cluster bootstrapper.
`,
);
for (const script of ["postinst", "prerm", "postrm"]) {
  const file = join(deb, "DEBIAN", script);
  copyFileSync(join(repo, "scripts/deb", script), file);
  chmodSync(file, 0o755);
}
const debFile = join(release, `podkit_${version}_amd64.deb`);
run("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", deb, debFile], {
  stdio: ["ignore", "ignore", "inherit"],
});

// 3. npm package: the launcher, the bundle and its files; no dependencies to fetch or compile.
const npm = join(work, "npm");
mkdirSync(npm, { recursive: true });
copyFileSync(join(bundle, "podkit.cjs"), join(npm, "podkit.cjs"));
chmodSync(join(npm, "podkit.cjs"), 0o755);
copyFileSync(join(bundle, "app.cjs"), join(npm, "app.cjs"));
cpSync(join(bundle, "files"), join(npm, "files"), { recursive: true });
copyFileSync(join(repo, "scripts/npm-README.md"), join(npm, "README.md"));
writeFileSync(
  join(npm, "package.json"),
  `${JSON.stringify(
    {
      name: "podkit",
      version,
      description,
      homepage: "https://github.com/podkit/podkit",
      bin: { podkit: "podkit.cjs" },
      files: ["podkit.cjs", "app.cjs", "files"],
      // The SQLite addon is built for Node 20's ABI; the other addons use Node-API.
      engines: { node: ">=20.19 <21" },
      os: ["linux"],
      cpu: ["x64"],
    },
    null,
    2,
  )}\n`,
);
run("npm", ["pack", "--silent", "--pack-destination", release], {
  cwd: npm,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, npm_config_update_notifier: "false" },
});

const artifacts = [exe, debFile, join(release, `podkit-${version}.tgz`)];
const sums = artifacts.map((f) => {
  const hex = createHash("sha256").update(readFileSync(f)).digest("hex");
  return `${hex}  ${basename(f)}\n`;
});
writeFileSync(join(release, "SHA256SUMS"), sums.join(""));
rmSync(work, { recursive: true, force: true });
for (const f of artifacts) console.log(`${resolve(f)}  ${(statSync(f).size / 2 ** 20).toFixed(1)} MiB`);
