// `pnpm lint` runs this (depcruise): the layering the READMEs describe, checked on every change.
// Workspace packages are resolved through their symlinks to packages/<name>/dist, so a rule on
// "^packages/core/" covers `import … from "@podkit/core"` as well as relative paths.
// No known violations are accepted: every rule holds on the whole tree.
/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "Modules that import each other in a circle (type-only imports count too).",
      from: {},
      to: { circular: true },
    },
    {
      name: "package-imports-core-only",
      severity: "error",
      comment: "A package imports @podkit/core and its own files, never another package or an app.",
      from: { path: "^packages/([^/]+)/" },
      to: { path: "^(packages|apps)/", pathNot: ["^packages/core/", "^packages/$1/"] },
    },
    {
      name: "apps-import-packages",
      severity: "error",
      comment:
        "An app imports packages and its own files; the CLI also starts the control plane through that app's public entry.",
      from: { path: "^apps/([^/]+)/" },
      to: { path: "^apps/", pathNot: ["^apps/$1/", "^apps/control-plane/dist/index\\.(js|d\\.ts)$"] },
    },
    {
      name: "s3-ops-not-posix",
      severity: "error",
      comment: "S3 operations speak to the backend interface, never to the POSIX backend itself.",
      from: { path: "^packages/s3-gateway/src/ops/" },
      to: { path: "^packages/s3-gateway/src/backend/posix/" },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    // Workspace packages are leaves: each package's own sources are cruised from its src/.
    doNotFollow: { path: ["node_modules", "/dist/"] },
    exclude: { path: ["(^|/)node_modules/", "(^|/)dist-bench/", "^dist/"] },
    tsConfig: { fileName: "tsconfig.depcruise.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      // podkit-workspace: the test tools' entry (@podkit/control-plane/testing), for test/ only.
      conditionNames: ["import", "require", "node", "default", "types", "podkit-workspace"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".d.ts", ".json"],
    },
  },
};
