#!/bin/sh
# check_fuzz_seeds.sh MAKE_FUZZ_SEEDS CORPUS: fails when a committed protocol
# seed differs from what make_fuzz_seeds writes from today's fixtures.
set -eu
made=$(mktemp -d)
trap 'rm -rf "$made"' EXIT
"$1" "$made"
for seed in "$made"/*; do
    name=$(basename "$seed")
    if ! cmp -s "$seed" "$2/$name"; then
        echo "$2/$name is stale or missing: regenerate the seeds with $1 $2" >&2
        exit 1
    fi
done
