#!/usr/bin/env node
// Lists functions over 80 lines without a `Long:` why-comment and source files over
// 400 lines under packages/*/src and apps/*/src (tests, e2e, benches and test helpers
// excluded); exits 1 naming each. Run by `pnpm lint`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ts from "typescript";

const MAX_FUNCTION_LINES = 80;
const MAX_FILE_LINES = 400;
const MARKER = /^\s*(?:\/\/|\/?\*+)?\s*Long:/m;
const root = new URL("..", import.meta.url).pathname;

function skipped(path) {
  const parts = path.split(sep);
  return (
    path.endsWith(".test.ts") ||
    path.endsWith(".d.ts") ||
    parts.includes("it") ||
    parts.includes("bench") ||
    parts.includes("testing")
  );
}

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (/\.(ts|mts|tsx)$/.test(name) && !skipped(relative(root, path))) yield path;
  }
}

function srcDirs() {
  const dirs = [];
  for (const group of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, group))) {
      const src = join(root, group, name, "src");
      try {
        if (statSync(src).isDirectory()) dirs.push(src);
      } catch {
        // a package without src/ has nothing to check
      }
    }
  }
  return dirs;
}

function nameOf(node) {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (
    parent &&
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
  )
    return parent.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return "(anonymous)";
}

// The comments that lead a function: its own, or those of the statement that declares it
// (`export const f = () => …`, `x.action(async () => …)` is the call's statement).
function leadingComments(node, text) {
  const seen = [];
  let n = node;
  for (let depth = 0; n && depth < 4; depth++, n = n.parent) {
    for (const c of ts.getLeadingCommentRanges(text, n.getFullStart()) ?? [])
      seen.push(text.slice(c.pos, c.end));
    if (ts.isStatement(n) || ts.isClassElement(n)) break;
  }
  return seen.join("\n");
}

const problems = [];
for (const dir of srcDirs()) {
  for (const path of sources(dir)) {
    const text = readFileSync(path, "utf8");
    const rel = relative(root, path);
    const fileLines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (fileLines > MAX_FILE_LINES) problems.push(`${rel}: ${fileLines} lines (limit ${MAX_FILE_LINES})`);
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
        const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = end - start + 1;
        if (lines > MAX_FUNCTION_LINES && !MARKER.test(leadingComments(node, text)))
          problems.push(`${rel}:${start + 1}: ${nameOf(node)} is ${lines} lines without a "Long:" comment`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
}

if (problems.length > 0) {
  console.error(
    `Functions over ${MAX_FUNCTION_LINES} lines need a leading comment starting "Long:" saying why they stay whole:`,
  );
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
