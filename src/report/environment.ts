/**
 * What a record says about where and with which code it ran: runtime versions, OS, CPU, memory,
 * the git commit, a dirty flag and the lockfile hash.
 *
 * @module
 */
import { join } from "node:path";
import { sha256File } from "../util/hash.ts";
import { REPO_ROOT } from "../spec/context.ts";
import type { BackendDescription, CodeInfo, EnvironmentInfo } from "./record_types.ts";

/** Runs a command and returns its stdout, or null when it cannot run or fails. */
export type CommandRunner = (cmd: string, args: string[], cwd: string) => Promise<string | null>;

/** The default {@linkcode CommandRunner}: `Deno.Command`. */
export const runCommand: CommandRunner = async (cmd, args, cwd) => {
  try {
    const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
};

/**
 * The CPU model from /proc/cpuinfo (`model name`), else the architecture.
 *
 * @example
 * ```ts
 * cpuModel("model name\t: AMD EPYC 7B13\n"); // "AMD EPYC 7B13"
 * ```
 */
export function cpuModel(cpuinfo: string | null): string {
  const m = cpuinfo?.match(/^(model name|Hardware|Processor|cpu model)\s*:\s*(.+)$/m);
  return m ? m[2].trim() : Deno.build.arch;
}

/**
 * Environment of this process, with the backend that ran.
 *
 * @example
 * ```ts
 * const env = await captureEnvironment(backendInfo);
 * ```
 */
export async function captureEnvironment(backend: BackendDescription): Promise<EnvironmentInfo> {
  let cpuinfo: string | null = null;
  try {
    cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  } catch { /* not Linux */ }
  let memoryBytes: number | null = null;
  try {
    memoryBytes = Deno.systemMemoryInfo().total;
  } catch { /* not permitted */ }
  let osRelease = "";
  try {
    osRelease = Deno.osRelease();
  } catch { /* not permitted */ }
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: backend.tfjsVersion ?? null,
    backend,
    os: `${Deno.build.os} ${osRelease} ${Deno.build.arch}`.replace(/\s+/g, " ").trim(),
    cpu: cpuModel(cpuinfo),
    cpuCount: navigator.hardwareConcurrency || 1,
    memoryBytes,
  };
}

/**
 * Commit, dirty flag (tracked files only: run outputs do not count) and deno.lock sha256 of a
 * checkout.
 *
 * @example
 * ```ts
 * const code = await captureCode(); // { commit: "74063e5…", dirty: false, lockHash: "…" }
 * ```
 */
export async function captureCode(
  repoDir: string = REPO_ROOT,
  run: CommandRunner = runCommand,
): Promise<CodeInfo> {
  const head = await run("git", ["rev-parse", "HEAD"], repoDir);
  const status = head === null
    ? null
    : await run("git", ["status", "--porcelain", "--untracked-files=no"], repoDir);
  let lockHash: string | null = null;
  try {
    lockHash = await sha256File(join(repoDir, "deno.lock"));
  } catch { /* no lockfile */ }
  return {
    commit: head === null ? null : head.trim(),
    dirty: status === null ? null : status.trim().length > 0,
    lockHash,
  };
}
