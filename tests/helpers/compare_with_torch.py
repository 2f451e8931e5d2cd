#!/usr/bin/env python3
"""Interleaved comparison of `deno task perf` (one backend) with the PyTorch reference
(`torch_reference_bench.py`) on this machine: ROUNDS rounds, each running PyTorch then the
harness back to back, so both see the same machine state. Prints every round and the median of
the per-round ratios (harness / PyTorch) for training and evaluation throughput.

Usage: python3 tests/helpers/compare_with_torch.py [tiny|small] [--rounds N] [--steps N]
         [--backend native] [--json OUT]
Needs Deno and PyTorch (Debian's python3-torch); not part of the test suite.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + text[-2000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default="tiny")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--backend", default="native")
    ap.add_argument("--json", help="write the rounds and medians here")
    a = ap.parse_args()
    rounds = []
    for r in range(a.rounds):
        torch_out = subprocess.run(
            [sys.executable, os.path.join(HERE, "torch_reference_bench.py"), a.config,
             "--steps", str(a.steps)], capture_output=True, text=True, check=True).stdout
        deno_out = subprocess.run(
            ["deno", "task", "perf", "--backend", a.backend, "--config", a.config, "--steps",
             str(a.steps), "--json"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
        t, d = last_json(torch_out), last_json(deno_out)
        row = {
            "torch_train": t["train_images_per_s"], "torch_eval": t["eval_images_per_s"],
            "harness_train": round(d["train_images_per_s"], 1),
            "harness_eval": round(d["eval_images_per_s"], 1),
        }
        row["train_ratio"] = round(row["harness_train"] / row["torch_train"], 3)
        row["eval_ratio"] = round(row["harness_eval"] / row["torch_eval"], 3)
        rounds.append(row)
        print(f"round {r + 1}: torch {row['torch_train']:.1f} / {row['torch_eval']:.1f}, "
              f"{a.backend} {row['harness_train']:.1f} / {row['harness_eval']:.1f} images/s "
              f"(train / eval), ratio {row['train_ratio']:.2f} / {row['eval_ratio']:.2f}",
              flush=True)
    summary = {
        "config": a.config, "backend": a.backend, "rounds": rounds,
        "median_train_ratio": statistics.median(r["train_ratio"] for r in rounds),
        "median_eval_ratio": statistics.median(r["eval_ratio"] for r in rounds),
        "torch": last_json(torch_out).get("torch"),
    }
    for key in ("torch_train", "torch_eval", "harness_train", "harness_eval"):
        summary["median_" + key] = statistics.median(r[key] for r in rounds)
    print(f"median ratio {a.backend}/torch: train {summary['median_train_ratio']:.2f}, "
          f"eval {summary['median_eval_ratio']:.2f}")
    if a.json:
        # Write beside the target, then rename: an earlier file is never left half-written.
        tmp = a.json + ".partial"
        with open(tmp, "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
