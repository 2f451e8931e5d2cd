#!/usr/bin/env python3
"""PyTorch reference for `deno task perf`: the same AMDIM encoder, NCE loss, online heads and
Adam step as the harness's `trainStep`, timed the same way (batch / median step time), on CPU
or on a CUDA GPU (`--device cuda`; each timed step ends with the loss read back, as in the
harness, and the evaluation forward with a synchronisation).

Usage: python3 tests/helpers/torch_reference_bench.py [tiny|small] [--steps N] [--threads T]
                                                      [--batch B] [--device cpu|cuda]
Prints one JSON line: config, device, batch, threads, torch version, train_images_per_s,
eval_images_per_s.
Needs Debian's python3-torch (or any PyTorch); not part of the test suite.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {"tiny": (32, 256, 3), "small": (64, 512, 3)}


class ResUnit(nn.Module):
    """conv_a (k, s) + ReLU, conv_b 1x1, shortcut = avg-pool (and zero channels) when shapes change."""

    def __init__(self, n_in, n_out, k, s):
        super().__init__()
        self.conv_a = nn.Conv2d(n_in, n_out, k, s, 0, bias=False)
        self.conv_b = nn.Conv2d(n_out, n_out, 1, 1, 0, bias=False)
        self.k, self.s, self.grow = k, s, n_out - n_in

    def forward(self, x):
        h = self.conv_b(F.relu(self.conv_a(x)))
        sc = x if self.k == 1 and self.s == 1 else F.avg_pool2d(x, self.k, self.s)
        if self.grow > 0:
            sc = F.pad(sc, (0, 0, 0, 0, 0, self.grow))
        return h + sc


def block(n_in, n_out, k, s, depth):
    return [ResUnit(n_in, n_out, k, s)] + [ResUnit(n_out, n_out, 1, 1) for _ in range(depth - 1)]


class Head(nn.Module):
    """r5 / r7 head: conv_a + ReLU, conv_b, plus a biased 1x1 shortcut, then BatchNorm."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv_a = nn.Conv2d(n_in, n_out, 1, bias=False)
        self.conv_b = nn.Conv2d(n_out, n_out, 1, bias=False)
        self.shortcut = nn.Conv2d(n_in, n_out, 1, bias=True)
        self.bn = nn.BatchNorm2d(n_out)

    def forward(self, x):
        return self.bn(self.conv_b(F.relu(self.conv_a(x))) + self.shortcut(x))


class Encoder(nn.Module):
    def __init__(self, ndf, n_rkhs, depth):
        super().__init__()
        self.stem = nn.Conv2d(3, ndf, 3, 1, 0, bias=True)
        self.a = nn.Sequential(*block(ndf, ndf, 1, 1, 1), *block(ndf, 2 * ndf, 4, 2, depth),
                               *block(2 * ndf, 4 * ndf, 2, 2, depth))
        self.b = nn.Sequential(*block(4 * ndf, 4 * ndf, 3, 1, depth))
        self.c = nn.Sequential(*block(4 * ndf, 4 * ndf, 3, 1, depth), *block(4 * ndf, n_rkhs, 3, 1, 1))
        self.final_bn = nn.BatchNorm2d(n_rkhs)
        self.h5 = Head(4 * ndf, n_rkhs)
        self.h7 = Head(4 * ndf, n_rkhs)

    def forward(self, x):
        r7_in = self.a(F.relu(self.stem(x)))
        r5_in = self.b(r7_in)
        r1 = self.final_bn(self.c(r5_in)).flatten(1)
        return r1, self.h5(r5_in), self.h7(r7_in)


def nce(src, trg, tclip=20.0, w=0.05):
    b, d = src.shape
    locs = trg.shape[1]
    raw = (src @ trg.reshape(b * locs, d).t() / d ** 0.5).reshape(b, b, locs)
    reg = w * (raw ** 2).mean()
    c = tclip * torch.tanh(raw / tclip)
    eye = torch.eye(b, device=src.device).reshape(b, b, 1)
    pos = (c * eye).sum(1)
    neg = c * (1 - eye) - tclip * eye
    neg_max = neg.reshape(b, -1).max(1, keepdim=True)[0]
    neg_sum = (torch.exp(neg - neg_max.reshape(b, 1, 1)) * (1 - eye)).sum((1, 2)).reshape(b, 1)
    return F.softplus(neg_max + torch.log(neg_sum) - pos).mean(), reg


def locs(r):
    return r.permute(0, 2, 3, 1).reshape(r.shape[0], -1, r.shape[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    ndf, n_rkhs, depth = CONFIGS[a.config]
    enc = Encoder(ndf, n_rkhs, depth)
    lin = nn.Linear(n_rkhs, 10)
    mlp = nn.Sequential(nn.Linear(n_rkhs, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(),
                        nn.Dropout(0.2), nn.Linear(1024, 10))
    enc, lin, mlp = enc.to(dev), lin.to(dev), mlp.to(dev)
    params = list(enc.parameters()) + list(lin.parameters()) + list(mlp.parameters())
    opt = torch.optim.Adam(params, lr=2e-4, betas=(0.8, 0.999), eps=1e-8, weight_decay=1e-5)
    b = a.batch
    x1 = (torch.rand(b, 3, 32, 32) * 4 - 2).to(dev)
    x2 = (torch.rand(b, 3, 32, 32) * 4 - 2).to(dev)
    y = torch.randint(0, 10, (b,)).to(dev)

    def train_step():
        r1a, r5a, r7a = enc(x1)
        r1b, r5b, r7b = enc(x2)
        i = torch.arange(b, device=dev)
        g5a = locs(r5a)[i, torch.randint(0, 25, (b,), device=dev)]
        g5b = locs(r5b)[i, torch.randint(0, 25, (b,), device=dev)]
        parts = [nce(r1a, locs(r5b)), nce(r1b, locs(r5a)), nce(r1a, locs(r7b)),
                 nce(r1b, locs(r7a)), nce(g5a, locs(r5b)), nce(g5b, locs(r5a))]
        loss = sum(0.5 * (l + r) for l, r in parts)
        feats = torch.cat([r1a, r1b]).detach()
        yy = torch.cat([y, y])
        loss = loss + F.cross_entropy(lin(feats), yy) + F.cross_entropy(mlp(feats), yy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def eval_step():
        enc.eval()
        with torch.no_grad():
            enc(x1)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        enc.train()

    def timed(fn):
        ms = []
        for s in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            fn()
            if s >= a.warmup:
                ms.append((time.perf_counter() - t0) * 1000)
        return statistics.median(ms)

    train_ms, eval_ms = timed(train_step), timed(eval_step)
    print(json.dumps({
        "config": a.config, "device": str(dev), "batch": b, "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_images_per_s": round(b / train_ms * 1000, 1),
        "eval_images_per_s": round(b / eval_ms * 1000, 1),
    }))


if __name__ == "__main__":
    main()
