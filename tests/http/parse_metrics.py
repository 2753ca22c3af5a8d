#!/usr/bin/env python3
"""Parses segqd's /metrics with the Prometheus client's own parser.

usage: parse_metrics.py EXPOSITION.txt > SAMPLES.json

Prints {"families": {NAME: TYPE}, "samples": [{"name", "labels", "value"}]}
for the C test to check exact values against. Exits non-zero (with the
parser's complaint on stderr) when the text is not valid exposition
format 0.0.4, or when a histogram's buckets are not cumulative or their
+Inf bucket is not its _count: the parser alone accepts both.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def check_histogram(family):
    """Cumulative buckets, +Inf equal to _count, per label set."""
    series = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "count": None})
        if s.name.endswith("_bucket"):
            entry["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            entry["count"] = s.value
    for key, entry in series.items():
        values = [v for _, v in sorted(entry["buckets"])]
        if values != sorted(values):
            sys.exit(f"{family.name}{dict(key)}: buckets are not cumulative: {values}")
        if not values or values[-1] != entry["count"]:
            sys.exit(f"{family.name}{dict(key)}: +Inf bucket {values[-1:]} != _count {entry['count']}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families, samples = {}, []
    for family in text_string_to_metric_families(text):
        if family.name in families:
            sys.exit(f"family {family.name} appears twice")
        families[family.name] = family.type
        if family.type == "histogram":
            check_histogram(family)
        for s in family.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value})
    json.dump({"families": families, "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
