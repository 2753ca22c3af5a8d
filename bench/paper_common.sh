# bench/paper_common.sh: what bench/paper.sh and bench/paper_kfold.sh share
# (sourced, not run): the configurations, linking pairs, finished steps.

# paper_config CONFIG: sets the real pairs a pick trains on (n_real: the
# paper's small-data case), train's --max-size and --niter (max_size,
# niter), the synthetic pairs per SinGAN (per_model), the held-out test
# pairs of paper.sh (n_test), evaluate's epochs, image side and batch,
# stylize's steps, and how many UNet++ seeds train each set (unets: with
# a few real pairs one seed's figure is mostly the seed's); and how many
# times the epochs the control trains (longer)
paper_config() {
  case $1 in
    smoke) max_size=40 niter=30 per_model=4 n_test=20 epochs=4 side=64 batch=4 style_steps=5 unets=2 ;;
    quick) max_size=96 niter=300 per_model=10 n_test=100 epochs=30 side=96 batch=8 style_steps=200 unets=3 ;;
    cpu) max_size=128 niter=1000 per_model=10 n_test=200 epochs=100 side=128 batch=8 style_steps=500 unets=3 ;;
    paper) max_size=250 niter=2000 per_model=10 n_test=200 epochs=300 side=128 batch=8 style_steps=1000 unets=3 ;;
    *) echo "${0##*/}: CONFIG is smoke, quick, cpu or paper, not '$1'" >&2; exit 2 ;;
  esac
  n_real=5
  # The control: real+singan sees 1 + PER_MODEL times as many pairs an
  # epoch as real alone, so it also trains that much longer; the real set
  # trained that many epochs tells a gain from the synthetic pairs apart
  # from one from training longer.
  longer=$((1 + per_model))
  unets=${UNETS:-$unets}
  [[ $unets =~ ^[0-9]+$ ]] || { echo "${0##*/}: UNETS=$unets: a number of UNet++ seeds, 0 or more" >&2; exit 2; }
}

# link_pairs DIR NAMES...: DATA's pairs of those names into DIR/images and
# DIR/masks; links, not copies: patient data
link_pairs() {
  local dir=$1 name
  shift
  mkdir -p "$dir/images" "$dir/masks"
  for name in "$@"; do
    ln -sfn "$data/images/$name" "$dir/images/$name"
    ln -sfn "$data/masks/$name" "$dir/masks/$name"
  done
}

now() { date +%s; }

# step NAME COMMAND...: runs it unless a run before finished it (marked in
# $out/done); its seconds (of the sitting that finished it) go into its mark
step() {
  local name=$1 t0
  shift
  [ -f "$out/done/$name" ] && return 0
  record_commit
  t0=$(now)
  "$@"
  echo $(($(now) - t0)) >"$out/done/$name"
}

# record_commit: the checkout's commit into $out/commits when it is not the
# last one there: the commits that ran steps (a run that goes on may span
# several; one that finds its steps done, as paper_kfold.sh finds a pick's
# SinGANs, adds none)
record_commit() {
  local commit
  commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ "$(tail -n 1 "$out/commits" 2>/dev/null)" = "$commit" ] || echo "$commit" >>"$out/commits"
}

# claim_out SETTING: $out for a run of SETTING: FRESH=1 empties it first; a
# run of another setting there is refused (going on with other settings
# would mix two runs' steps), and so is a folder that holds anything but
# the picks a k-fold run was given (pick-S)
claim_out() {
  local had
  [ "${FRESH:-0}" = 1 ] && rm -rf "$out"
  had=$(cat "$out/setting" 2>/dev/null ||
    { [ -z "$(ls -A "$out" 2>/dev/null | grep -v '^pick-')" ] || echo "no setting: not a run of ${0##*/}"; })
  if [ -n "$had" ] && [ "$had" != "$1" ]; then
    echo "${0##*/}: $out holds another run ($had); FRESH=1 starts this one over there, or name another OUT_DIR" >&2
    exit 2
  fi
  mkdir -p "$out/done"
  echo "$1" >"$out/setting"
}

# unetpp NAME U TIMES ARGS...: segq-run evaluate --real $out/real ARGS
# (the test pairs or folds, the synthetic sets) into evaluation/NAME, with
# UNet++ seed SEED+U and TIMES as many epochs as the configuration's; the
# learning rate drops at epoch 50 (evaluate's default) times TIMES alike
unetpp() {
  local name=$1 u=$2 times=$3
  shift 3
  rm -rf "$out/evaluation/$name"
  mkdir -p "$out/evaluation"
  "$segq_run" evaluate --real "$out/real" "$@" --out "$out/evaluation/$name" \
    --epochs $((epochs * times)) --lr-drop-epoch $((50 * times)) --size "$side" --batch "$batch" \
    --seed $((seed + u)) --device "$device" --threads "$threads" >"$out/evaluate-$name.log" 2>&1
}

# unetpps WHERE...: for each UNet++ seed, evaluate's run of every training
# set and the control's, tested as WHERE says (--test DIR, or --folds K:
# evaluate deals them by its seed, so the control's are the sets'); then
# paper_table.py's arguments for the control runs in `controls`
unetpps() {
  local u sets=(--synthetic singan="$out/synthetic")
  [ -z "$vgg19" ] || sets+=(--synthetic stylized="$out/stylized")
  controls=()
  for u in $(seq 0 $((unets - 1))); do
    step "evaluate-$u" unetpp "seed-$u" "$u" 1 "$@" "${sets[@]}"
    step "longer-$u" unetpp "longer-$u" "$u" "$longer" "$@"
    echo "  UNet++ seed $((seed + u)) on each training set: $(cat "$out/done/evaluate-$u") s," \
      "on real for ${longer}x the epochs: $(cat "$out/done/longer-$u") s"
    controls+=(--control "real ${longer}x epochs=$out/evaluation/longer-$u/metrics.csv")
  done
}
