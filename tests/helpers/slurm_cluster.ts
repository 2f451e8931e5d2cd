/**
 * A real single-node Slurm cluster for tests: munged, slurmctld and slurmd started as child
 * processes (foreground, so each is known by its PID) with their own configuration, keys, state,
 * spool and logs under a temporary folder. Every daemon binds the loopback address only
 * (`NoCtldInAddrAny,NoInAddrAny`, node address 127.0.0.1) on ports free at start-up. Clients
 * find the cluster through `SLURM_CONF` (see {@linkcode SlurmCluster.env}).
 *
 * Needs the Debian packages `slurm-wlm` and `munge` and root (slurmd runs jobs as their user).
 * {@linkcode slurmUnavailable} says why a cluster cannot start here, for a clear test skip.
 *
 * @module
 */
import { join } from "node:path";

/** A started cluster. Stop it with {@linkcode SlurmCluster.stop} (safe to call twice). */
export interface SlurmCluster {
  /** The temporary folder holding configuration, state and logs. */
  dir: string;
  /** Path of slurm.conf. */
  conf: string;
  /** The partition jobs go to by default. */
  partition: string;
  /** Environment for Slurm clients (`SLURM_CONF`). */
  env: Record<string, string>;
  /** CPUs of the node. */
  cpus: number;
  /** PIDs of munged, slurmctld, slurmd. */
  pids: { munged: number; slurmctld: number; slurmd: number };
  /** Last lines of each daemon's log (for failure messages). */
  logs(): Promise<string>;
  /** Stops every daemon (SIGTERM, then SIGKILL) and removes the folder unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

const BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel"];

async function onPath(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if ((await Deno.stat(join(dir, name))).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/**
 * Why a Slurm cluster cannot start on this machine, or null when it can.
 *
 * @example
 * ```ts
 * const why = await slurmUnavailable();
 * Deno.test({ name: "sweep on slurm", ignore: why !== null, fn: ... });
 * ```
 */
export async function slurmUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "Slurm tests need Linux";
  const missing: string[] = [];
  for (const b of BINARIES) if (!(await onPath(b))) missing.push(b);
  if (missing.length) {
    return `Slurm binaries not found (${missing.join(", ")}): ` +
      "apt-get install -y --no-install-recommends slurm-wlm munge";
  }
  if (Deno.uid() !== 0) return "a test Slurm cluster needs root (slurmd starts jobs as their user)";
  return null;
}

/** Ports free on 127.0.0.1 right now (all held open together, so they differ). */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

async function output(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function tail(path: string, lines = 15): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Processes of this cluster's jobs: those started with its `SLURM_CONF` in their environment
 * (batch scripts, srun, the job's own processes) and the slurmstepd holding files under its
 * folder.
 */
async function jobProcesses(dir: string, conf: string): Promise<number[]> {
  const out: number[] = [];
  const marker = new TextEncoder().encode(`SLURM_CONF=${conf}\0`);
  const contains = (hay: Uint8Array, needle: Uint8Array) => {
    outer: for (let i = 0; i + needle.length <= hay.length; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  };
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (pid === Deno.pid) continue;
    try {
      if (contains(await Deno.readFile(`/proc/${pid}/environ`), marker)) {
        out.push(pid);
        continue;
      }
      const comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
      if (comm !== "slurmstepd") continue;
      for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
        const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
        if (target.startsWith(dir)) {
          out.push(pid);
          break;
        }
      }
    } catch { /* gone or not ours to read */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms\n${await logs()}`);
}

const started = new Set<SlurmCluster>();
let unloadHooked = false;

function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  // Last resort: a test that dies without reaching its finally still takes the daemons down.
  globalThis.addEventListener("unload", () => {
    for (const c of started) {
      for (const pid of [c.pids.slurmd, c.pids.slurmctld, c.pids.munged]) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  });
}

/**
 * Starts munged, slurmctld and slurmd under a new temporary folder and waits until the node is
 * idle. Always pair with `stop()` in a `finally`.
 *
 * @example
 * ```ts
 * const cluster = await startSlurmCluster();
 * try {
 *   await new Deno.Command("sinfo", { env: cluster.env }).output();
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startSlurmCluster(
  options: { cpus?: number; minJobAge?: number } = {},
): Promise<SlurmCluster> {
  const dir = await Deno.makeTempDir({ prefix: "amdim-slurm-" });
  // Slurm's daemons and munged check that their folders are not writable by others.
  await Deno.chmod(dir, 0o755);
  const path = (...p: string[]) => join(dir, ...p);
  for (const d of ["munge", "state", "spool", "log", "run"]) {
    await Deno.mkdir(path(d), { mode: 0o755 });
  }
  await Deno.chmod(path("munge"), 0o755);
  const key = crypto.getRandomValues(new Uint8Array(1024));
  await Deno.writeFile(path("munge", "munge.key"), key, { mode: 0o600 });
  await Deno.chmod(path("munge", "munge.key"), 0o600);
  const socket = path("munge", "munge.socket");

  const pids = { munged: 0, slurmctld: 0, slurmd: 0 };
  const children: Deno.ChildProcess[] = [];
  let stopped = false;
  const logs = async () =>
    [
      `--- munged\n${await tail(path("log", "munged.log"))}`,
      `--- slurmctld\n${await tail(path("log", "slurmctld.log"))}`,
      `--- slurmd\n${await tail(path("log", "slurmd.log"))}`,
    ].join("\n");
  const conf = path("slurm.conf");
  const env = { SLURM_CONF: conf };
  const cluster: SlurmCluster = {
    dir,
    conf,
    partition: "debug",
    env,
    cpus: 0,
    pids,
    logs,
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      started.delete(cluster);
      // Jobs first, while the daemons can still end them.
      try {
        const jobs = (await output("squeue", ["-h", "-o", "%A"], env)).split("\n")
          .map((l) => l.trim()).filter(Boolean);
        if (jobs.length) {
          await output("scancel", [...new Set(jobs)], env);
          const end = Date.now() + 10_000;
          while (Date.now() < end && (await output("squeue", ["-h", "-o", "%A"], env)).trim()) {
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      } catch { /* the controller is gone: the sweep below still ends the jobs */ }
      for (const pid of [pids.slurmd, pids.slurmctld, pids.munged]) {
        if (!pid) continue;
        try {
          Deno.kill(pid, "SIGTERM");
        } catch { /* already gone */ }
      }
      const end = Date.now() + 5000;
      while (
        Date.now() < end && [pids.slurmd, pids.slurmctld, pids.munged].some((p) => p && alive(p))
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const pid of [pids.slurmd, pids.slurmctld, pids.munged]) {
        if (pid && alive(pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone */ }
        }
      }
      await Promise.allSettled(children.map((c) => c.status));
      // Job steps outlive slurmd: end what is left of this cluster's jobs, by PID.
      for (const pid of await jobProcesses(dir, conf)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      if (!opts.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  const spawn = (cmd: string, args: string[]) => {
    const child = new Deno.Command(cmd, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(child);
    return child.pid;
  };
  started.add(cluster);
  hookUnload();
  try {
    pids.munged = spawn("munged", [
      "--foreground",
      "--force",
      `--socket=${socket}`,
      `--key-file=${path("munge", "munge.key")}`,
      `--pid-file=${path("run", "munged.pid")}`,
      `--log-file=${path("log", "munged.log")}`,
      `--seed-file=${path("munge", "munged.seed")}`,
      "--origin=127.0.0.1",
      "--num-threads=2",
    ]);
    await waitFor(
      "munged socket",
      async () => {
        try {
          await Deno.stat(socket);
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      logs,
    );

    // The node line as slurmd sees this machine, bound to loopback.
    const nodeLine = (await output("slurmd", ["-C"])).split("\n")[0].trim();
    const nodeName = /NodeName=(\S+)/.exec(nodeLine)?.[1] ?? "localhost";
    const detectedCpus = Number(/CPUs=(\d+)/.exec(nodeLine)?.[1] ?? "1");
    cluster.cpus = options.cpus ?? detectedCpus;
    const [ctldPort, slurmdPort] = freePorts(2);
    const text = [
      "ClusterName=amdimtest",
      `SlurmctldHost=${nodeName}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      `StateSaveLocation=${path("state")}`,
      `SlurmdSpoolDir=${path("spool")}`,
      `SlurmctldPidFile=${path("run", "slurmctld.pid")}`,
      `SlurmdPidFile=${path("run", "slurmd.pid")}`,
      `SlurmctldLogFile=${path("log", "slurmctld.log")}`,
      `SlurmdLogFile=${path("log", "slurmd.log")}`,
      "SlurmctldDebug=info",
      "SlurmdDebug=info",
      "MailProg=/bin/true",
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SwitchType=switch/none",
      "MpiDefault=none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "SchedulerType=sched/backfill",
      "SchedulerParameters=sched_interval=1",
      "AccountingStorageType=accounting_storage/none",
      "JobAcctGatherType=jobacct_gather/none",
      "JobCompType=jobcomp/filetxt",
      `JobCompLoc=${path("log", "jobcomp.log")}`,
      "ReturnToService=2",
      `MinJobAge=${options.minJobAge ?? 600}`,
      "KillWait=5",
      "InactiveLimit=0",
      "SlurmdTimeout=60",
      `${nodeLine.replace(/CPUs=\d+/, `CPUs=${cluster.cpus}`)} NodeAddr=127.0.0.1 ` +
      "NodeHostname=" + nodeName + " State=UNKNOWN",
      `PartitionName=${cluster.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n");
    await Deno.writeTextFile(conf, text);

    pids.slurmctld = spawn("slurmctld", ["-D", "-c", "-i", "-f", conf]);
    pids.slurmd = spawn("slurmd", ["-D", "-f", conf]);
    await waitFor(
      "an idle Slurm node",
      async () => {
        if (!alive(pids.slurmctld) || !alive(pids.slurmd)) {
          throw new Error(`a Slurm daemon exited at start-up\n${await logs()}`);
        }
        try {
          const state = await output("sinfo", ["-h", "-o", "%T"], env);
          return state.trim().split("\n").some((s) => s.startsWith("idle"));
        } catch {
          return false;
        }
      },
      30_000,
      logs,
    );
    return cluster;
  } catch (error) {
    await cluster.stop({ keep: false });
    throw error;
  }
}
