import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { events, podkit, relayForSuite, startCliRelay } from "./transfer/cli.js";
import { makeShapes, sha256File, snapshot, writeRandomFile } from "./transfer/tree.js";

// Podkit sender ↔ Podkit receiver through `podkit relay`, all three as separate processes on loopback.
const PASS = "e2e-pass";
const relay = relayForSuite(PASS);

const tmp = (name: string): string => mkdtempSync(join(tmpdir(), `podkit-${name}-`));
let codeSeq = 0;
/** Codes differ in their first bytes so parallel rooms never collide (generation A rooms are 3 bytes). */
const newCode = (): string =>
  `${(100 + (process.pid % 400) + codeSeq++ * 7) % 900}${codeSeq % 10}-e2e-code-${randomBytes(3).toString("hex")}`;

async function transfer(
  sendArgs: string[],
  receiveArgs: string[],
  options: { cwd?: string; stdin?: string; receiverStdin?: string; yes?: boolean } = {},
) {
  const code = newCode();
  const sender = podkit(["send", ...sendArgs, "--code", code, ...relay.flags()], {
    cwd: options.cwd,
    stdin: options.stdin,
  });
  await sender.waitForLine((l) => l === code);
  const yes = options.yes === false ? [] : ["--yes"];
  const receiver = podkit(["receive", code, ...yes, ...relay.flags(), ...receiveArgs], {
    stdin: options.receiverStdin,
  });
  const [s, r] = await Promise.all([sender.done, receiver.done]);
  return { code, s, r };
}

describe("podkit send / receive", () => {
  for (const protocol of ["a", "b", "auto"]) {
    it(`moves every content shape exactly (protocol ${protocol})`, async () => {
      const src = tmp("src");
      const paths = makeShapes(src);
      const out = tmp("out");
      const { s, r } = await transfer(
        [...paths, "--protocol", protocol],
        ["--out", out, "--protocol", protocol],
      );
      expect(r.stderr).toContain("transfer complete");
      expect([s.code, r.code]).toEqual([0, 0]);
      expect(snapshot(out)).toEqual(snapshot(src));
      expect(s.stderr).toMatch(/Code is: .*\nOn the other computer run\n\npodkit receive /);
      expect(r.stderr).toMatch(new RegExp(`protocol generation ${protocol === "a" ? "A" : "B"}`));
    });
  }

  it("sends a 200 MiB random file intact, with JSON progress events", async () => {
    const src = tmp("big");
    const file = join(src, "big.bin");
    await writeRandomFile(file, 200);
    const out = tmp("big-out");
    const { s, r } = await transfer([file], ["--out", out, "--json"]);
    expect([s.code, r.code]).toEqual([0, 0]);
    expect(await sha256File(join(out, "big.bin"))).toBe(await sha256File(file));
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "offer")).toMatchObject({ totalBytes: 200 * 1024 * 1024 });
    expect(ev.some((e) => e.type === "progress")).toBe(true);
    expect(ev.at(-1)).toMatchObject({ type: "done", files: 1, bytes: 200 * 1024 * 1024 });
  });

  it("follows the PAKE curve the receiver asks for (--curve siec, protocol b)", async () => {
    const src = tmp("curve");
    writeFileSync(join(src, "c.txt"), "curved");
    const out = tmp("curve-out");
    const { s, r } = await transfer(
      [join(src, "c.txt"), "--protocol", "b"],
      ["--out", out, "--curve", "siec"],
    );
    expect([s.code, r.code]).toEqual([0, 0]);
    expect(readFileSync(join(out, "c.txt"), "utf8")).toBe("curved");
  });

  it("sends stdin and zips folders like runpodctl (protocol a)", async () => {
    const src = tmp("zip");
    mkdirSync(join(src, "data/sub"), { recursive: true });
    writeFileSync(join(src, "data/sub/a.txt"), "aaa");
    writeFileSync(join(src, "data/b.txt"), "bbb");
    const out = tmp("zip-out");
    const { s, r } = await transfer(["data", "-", "--zip", "--protocol", "a"], ["--out", out], {
      cwd: src,
      stdin: "from stdin\n",
    });
    expect([s.code, r.code]).toEqual([0, 0]);
    expect(readFileSync(join(out, "data/sub/a.txt"), "utf8")).toBe("aaa");
    expect(readFileSync(join(out, "data/b.txt"), "utf8")).toBe("bbb");
    const names = readdirSync(out);
    expect(names).not.toContain("data.zip");
    const stdinFile = names.find((n) => n.startsWith("croc-stdin-"));
    expect(stdinFile && readFileSync(join(out, stdinFile), "utf8")).toBe("from stdin\n");
    expect(readdirSync(src)).toEqual(["data"]); // no zip left behind on the sender
  });

  for (const protocol of ["a", "b"]) {
    it(`a wrong code fails fast on both sides and writes nothing (protocol ${protocol})`, async () => {
      const src = tmp("wrong");
      writeFileSync(join(src, "secret.txt"), "secret");
      const out = tmp("wrong-out");
      const code = newCode();
      const wrong = `${code.slice(0, 5)}not-the-same`;
      const sender = podkit([
        "send",
        join(src, "secret.txt"),
        "--code",
        code,
        "--protocol",
        protocol,
        ...relay.flags(),
      ]);
      await sender.waitForLine((l) => l === code);
      const receiver = podkit([
        "receive",
        wrong,
        "--yes",
        "--out",
        out,
        "--protocol",
        protocol,
        ...relay.flags(),
      ]);
      const [s, r] = await Promise.all([sender.done, receiver.done]);
      expect(s.code).toBe(5);
      expect(r.code).toBe(5);
      expect(s.stderr).toMatch(/wrong code phrase/);
      expect(r.stderr).toMatch(/wrong code phrase/);
      expect(Math.max(s.ms, r.ms)).toBeLessThan(15_000);
      expect(readdirSync(out)).toEqual([]);
    });
  }

  it("never overwrites without --overwrite or a y to its own question; skips identical files", async () => {
    const src = tmp("ow");
    writeFileSync(join(src, "same.txt"), "same");
    writeFileSync(join(src, "changed.txt"), "new content");
    const out = tmp("ow-out");
    writeFileSync(join(out, "same.txt"), "same");
    writeFileSync(join(out, "changed.txt"), "old content");
    const files = [join(src, "same.txt"), join(src, "changed.txt")];
    // --yes accepts the offer, but replacing is asked on its own: a closed stdin answers no.
    const first = await transfer(files, ["--out", out]);
    expect(first.r.code).toBe(6);
    expect(first.r.stderr).toContain("Replace the 1 file(s) already here with other content? (y/N)");
    expect(first.r.stderr).toMatch(
      /"changed.txt" already exist.*Answer y when asked to replace them, or pass --overwrite/,
    );
    expect(first.s.code).toBe(1);
    expect(first.s.stderr).toMatch(
      /the receiver refused the files \(the receiver already has some of these files with other content .*\); nothing was sent/,
    );
    expect(readFileSync(join(out, "changed.txt"), "utf8")).toBe("old content");
    // A y to that question replaces them, with --yes or after a y to "Accept?".
    const yesAnswer = await transfer(files, ["--out", out], { receiverStdin: "y\n" });
    expect([yesAnswer.s.code, yesAnswer.r.code]).toEqual([0, 0]);
    expect(readFileSync(join(out, "changed.txt"), "utf8")).toBe("new content");
    writeFileSync(join(out, "changed.txt"), "old content");
    const twoAnswers = await transfer(files, ["--out", out], { receiverStdin: "y\ny\n", yes: false });
    expect(twoAnswers.r.stderr).toMatch(/Accept\? \(y\/N\) [\s\S]*Replace the 1 file\(s\)/);
    expect([twoAnswers.s.code, twoAnswers.r.code]).toEqual([0, 0]);
    expect(readFileSync(join(out, "changed.txt"), "utf8")).toBe("new content");
    writeFileSync(join(out, "changed.txt"), "old content");
    const second = await transfer(files, ["--out", out, "--overwrite"]);
    expect([second.s.code, second.r.code]).toEqual([0, 0]);
    expect(second.r.stderr).not.toContain("Replace the");
    expect(readFileSync(join(out, "changed.txt"), "utf8")).toBe("new content");
    expect(second.r.stderr).toMatch(/same.txt: already here, skipped/);
  });

  it("asks before receiving: no refuses (sender is told why), yes accepts", async () => {
    const src = tmp("ask");
    writeFileSync(join(src, "asked.txt"), "ask first");
    for (const [answer, expected] of [
      ["n\n", 1],
      ["y\n", 0],
      ["", 1], // no terminal and nothing piped: no
    ] as const) {
      const out = tmp("ask-out");
      const { s, r } = await transfer([join(src, "asked.txt")], ["--out", out], {
        receiverStdin: answer,
        yes: false,
      });
      expect(r.stderr).toMatch(/Receiving 1 file\(s\), 9 B in total:\n {2}asked.txt \(9 B\)/);
      expect(r.stderr).toContain("Accept? (y/N)");
      expect(r.code).toBe(expected);
      if (expected === 1) {
        expect(r.stderr).toMatch(/transfer refused; nothing was written/);
        expect(s.stderr).toMatch(
          /the receiver refused the files \(declined by the receiver\); nothing was sent\. Send again once the receiver accepts/,
        );
        expect(s.stderr).not.toMatch(/peer error/);
        expect(readdirSync(out)).toEqual([]);
      } else {
        expect(readFileSync(join(out, "asked.txt"), "utf8")).toBe("ask first");
      }
    }
  });

  it("the relay and both clients take the password from a file with --relay-pass FILE", async () => {
    const secrets = tmp("pass");
    const passFile = join(secrets, "relay-pass");
    writeFileSync(passFile, "from-a-file\n", { mode: 0o600 });
    const own = await startCliRelay(passFile, "--relay-pass");
    try {
      expect(own.process.child.spawnargs).not.toContain("from-a-file");
      const src = tmp("pass-src");
      writeFileSync(join(src, "p.txt"), "via a file");
      const out = tmp("pass-out");
      const code = newCode();
      const sender = podkit([
        "send",
        join(src, "p.txt"),
        "--code",
        code,
        "--relay",
        own.address,
        "--relay-pass",
        passFile,
      ]);
      await sender.waitForLine((l) => l === code);
      // The file's contents are the password: the receiver may give either.
      const receiver = podkit([
        "receive",
        code,
        "--yes",
        "--out",
        out,
        "--relay",
        own.address,
        "--relay-pass",
        "from-a-file",
      ]);
      const [s, r] = await Promise.all([sender.done, receiver.done]);
      expect([s.code, r.code]).toEqual([0, 0]);
      expect(readFileSync(join(out, "p.txt"), "utf8")).toBe("via a file");
    } finally {
      await own.stop();
    }
  });

  it("a receiver whose code no sender uses says it is waiting, for which code and on which relay", async () => {
    const code = newCode();
    const receiver = podkit(["receive", code, "--yes", "--out", tmp("wait-out"), ...relay.flags()]);
    const stderr = await receiver.waitForStderr(/waiting for a sender/, 30_000);
    expect(stderr).toContain(
      `waiting for a sender with code ${code} on relay ${relay.address} (giving up after 60 s); check the code if nothing happens`,
    );
    receiver.child.kill("SIGINT");
    expect((await receiver.done).code).toBe(130);
  });
});
