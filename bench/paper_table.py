#!/usr/bin/env python3
"""bench/paper_table.py: the table of bench/paper.sh from segq-run evaluate's
metrics.csv of several UNet++ seeds (one fixed test set each).

    bench/paper_table.py SEED0/metrics.csv SEED1/metrics.csv ...
        [--control NAME=METRICS.csv ...] [--chart OUT.png]

Prints a Markdown table: per training set, each metric's mean over the
seeds with its spread (sample standard deviation), and the IoU against the
real set's: of the means, and the range of the per-seed ratios. Then, from
the per_image.csv beside each metrics.csv, each set against real test image
by test image: the mean IoU difference (each image's difference averaged
over the seeds) with a 95% bootstrap interval over the test images, and
how many images gain or lose. --chart writes a bar chart of IoU and F1 per
training set with one dot per seed.

A control is another evaluate run of the real set alone (bench/paper.sh:
trained longer); its real rows count as set NAME, and the synthetic sets
are compared with it image by image as well.
"""
import csv
import os
import random
import statistics
import sys

KEYS = ["iou", "f1", "precision", "recall", "accuracy"]


def runs(argv):
    """[(path, label or None)]: a label renames a control run's real set."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--control":
            if i + 1 == len(argv) or "=" not in argv[i + 1]:
                sys.exit("paper_table.py: --control wants NAME=METRICS.csv")
            label, path = argv[i + 1].split("=", 1)
            out.append((path, label))
            i += 2
        else:
            out.append((argv[i], None))
            i += 1
    return out


def set_name(row, label):
    return label if label and row["set"] == "real" else row["set"]


def read(paths):
    """{set: {metric: [value per seed]}}, sets in the order they appear."""
    sets = {}
    for path, label in paths:
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["fold"] != "mean":
                    continue
                per = sets.setdefault(set_name(row, label), {k: [] for k in KEYS})
                for k in KEYS:
                    per[k].append(float(row[k]))
    return sets


def cell(values):
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def table(sets):
    lines = [
        "| training set | " + " | ".join(KEYS) + " | IoU vs real (of the means; per seed) |",
        "| --- |" + " --- |" * (len(KEYS) + 1),
    ]
    base = sets.get("real", {}).get("iou")
    for name, per in sets.items():
        gain = ""
        if base and name != "real" and statistics.mean(base) > 0:
            # a seed whose real model marked nothing (IoU 0) has no ratio
            ratios = [o / b - 1 for o, b in zip(per["iou"], base) if b > 0]
            gain = f"{(statistics.mean(per['iou']) / statistics.mean(base) - 1) * 100:+.1f}%"
            if len(ratios) > 1:
                gain += f" ({min(ratios) * 100:+.0f}% .. {max(ratios) * 100:+.0f}%"
                gain += f"{', ' + str(len(ratios)) + ' seeds' if len(ratios) < len(base) else ''})"
        lines.append(f"| {name} | " + " | ".join(cell(per[k]) for k in KEYS) + f" | {gain} |")
    return "\n".join(lines)


def read_per_image(paths):
    """{set: {image: [IoU per seed]}} from the per_image.csv files beside
    the metrics.csv paths; None when a run has none (an older evaluate)."""
    per = {}
    for path, label in paths:
        each = os.path.join(os.path.dirname(path), "per_image.csv")
        if not os.path.exists(each):
            print(f"paper_table.py: no {each}: no image-by-image table", file=sys.stderr)
            return None
        with open(each) as f:
            for row in csv.DictReader(f):
                per.setdefault(set_name(row, label), {}).setdefault(row["image"], []).append(
                    float(row["iou"])
                )
    return per


def paired(per, base_name, skip, draws=10000):
    """Each set but those in skip against base_name on the same test
    images: the Markdown table."""
    base = per.get(base_name)
    if not base:
        return ""
    lines = [
        f"| training set | IoU minus {base_name}, mean per test image | 95% interval (bootstrap "
        "over the test images) | images better / worse / equal |",
        "| --- | --- | --- | --- |",
    ]
    rng = random.Random(0)
    for name, images in per.items():
        if name == base_name or name in skip:
            continue
        common = sorted(set(images) & set(base))
        diff = [statistics.mean(images[i]) - statistics.mean(base[i]) for i in common]
        if not diff:
            continue
        means = sorted(statistics.mean(rng.choices(diff, k=len(diff))) for _ in range(draws))
        lo, hi = means[int(0.025 * draws)], means[int(0.975 * draws) - 1]
        better = sum(d > 1e-9 for d in diff)
        worse = sum(d < -1e-9 for d in diff)
        lines.append(
            f"| {name} | {statistics.mean(diff):+.4f} | {lo:+.4f} .. {hi:+.4f} | "
            f"{better} / {worse} / {len(diff) - better - worse} |"
        )
    return "\n".join(lines)


def chart(sets, path):
    try:
        import matplotlib
    except ImportError:
        print(f"paper_table.py: no matplotlib here: no chart {path}", file=sys.stderr)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(sets)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    width = 0.38
    for i, key in enumerate(["iou", "f1"]):
        xs = [n + (i - 0.5) * width for n in range(len(names))]
        means = [statistics.mean(sets[s][key]) for s in names]
        ax.bar(xs, means, width, label="IoU" if key == "iou" else "F1 (Dice)")
        for x, s in zip(xs, names):
            ax.plot([x] * len(sets[s][key]), sets[s][key], "k.", markersize=4)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("on real test pairs")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("UNet++ by training set: bars the mean, dots each seed")
    fig.tight_layout()
    fig.savefig(path)


def main(argv):
    out = None
    if "--chart" in argv:
        i = argv.index("--chart")
        out = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    if not argv:
        sys.exit(
            "usage: paper_table.py METRICS.csv... [--control NAME=METRICS.csv] [--chart OUT.png]"
        )
    paths = runs(argv)
    sets = read(paths)
    print(table(sets))
    per = read_per_image(paths)
    controls = {label for _, label in paths if label}
    for base in ["real"] + sorted(controls) if per else []:
        # against real: every set; against a control: the synthetic ones
        print()
        print(paired(per, base, {"real"} | (controls if base != "real" else set())))
    if out:
        chart(sets, out)


if __name__ == "__main__":
    main(sys.argv[1:])
