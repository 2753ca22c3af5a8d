#!/usr/bin/env python3
"""bench/losses_compare.py: do two ways of training give the same losses,
within the spread between seeds? (CUDA graphs against plain steps, bf16
against fp32, one build against another.)

    bench/losses_compare.py A_RUN,A_RUN,... B_RUN,B_RUN,... [--last N] [--names A B]

Each RUN is a `segq-run train --out` folder (its losses.csv), one seed each.
For every scale and loss (loss_d, loss_g_adv, loss_rec) a run's figure is
the mean of the scale's last N iterations (default 10): a GAN's losses move
from one iteration to the next, so single values say little. Prints a
Markdown table: each group's mean over its seeds with the sample standard
deviation, and t, the difference over its standard error (Welch). Then how
many of the comparisons have |t| > 2: about 1 in 20 would by chance where
the two ways train alike and seeds are many; many more say they do not.
It is a screen, not a test: with 3 seeds a group the 95% point of t is
nearer 3-4, and a scale's losses depend on the scales before it. Needs two
or more seeds a group.
"""
import argparse
import csv
import math
import os
import statistics
import sys

LOSSES = ["loss_d", "loss_g_adv", "loss_rec"]


def tail_means(run, last):
    """{(scale, loss): mean over the scale's last `last` iterations}."""
    path = os.path.join(run, "losses.csv")
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(int(row["scale"]), []).append(row)
    if not rows:
        sys.exit(f"{path}: no losses")
    out = {}
    for scale, its in rows.items():
        its.sort(key=lambda r: int(r["iter"]))
        for loss in LOSSES:
            vals = [float(r[loss]) for r in its[-last:]]
            out[(scale, loss)] = statistics.fmean(vals)
    return out


def group(spec, last):
    runs = [r for r in spec.split(",") if r]
    if len(runs) < 2:
        sys.exit(f"{spec}: a group needs two or more runs (seeds) for a spread")
    return [tail_means(r, last) for r in runs]


def welch_t(a, b):
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    diff = statistics.fmean(b) - statistics.fmean(a)
    return diff / se if se > 0 else (0.0 if diff == 0 else math.inf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--last", type=int, default=10)
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    args = ap.parse_args()
    if args.last < 1:
        sys.exit("--last must be at least 1")
    ga, gb = group(args.a, args.last), group(args.b, args.last)
    keys = sorted(set.intersection(*(set(r) for r in ga + gb)))
    if not keys:
        sys.exit("the runs share no scale")
    na, nb = args.names
    print(f"| scale | loss | {na} ({len(ga)} seeds) | {nb} ({len(gb)} seeds) | t |")
    print("| --- | --- | --- | --- | --- |")
    beyond = 0
    for scale, loss in keys:
        a = [r[(scale, loss)] for r in ga]
        b = [r[(scale, loss)] for r in gb]
        t = welch_t(a, b)
        beyond += abs(t) > 2
        print(
            f"| {scale + 1} | {loss} | {statistics.fmean(a):.4f} ± {statistics.stdev(a):.4f} "
            f"| {statistics.fmean(b):.4f} ± {statistics.stdev(b):.4f} | {t:+.2f} |"
        )
    print(
        f"{beyond} of {len(keys)} comparisons with |t| > 2 (means of each scale's last "
        f"{args.last} iterations; about {len(keys) / 20:.1f} expected by chance alone)"
    )


if __name__ == "__main__":
    main()
