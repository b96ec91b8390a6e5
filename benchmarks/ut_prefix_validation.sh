#!/bin/bash
# Seed 1 (folds 1-8) of UT-Interaction rotated validation, meant for a 16-core machine (stop 32, issue 4): ts (twin_prefixes) and ml (prefix_frames_min=32) from scratch side by side,
# then ref (= ts main + ml twin) and both (= ml main + ts twin) prediction only.
# ref and ts set context_net.prefix_frames_min=0: UT_DEFAULTS hold 32 since stop 33.
# Run from the repo root with the feature store in runs/ut/features and $OUT set: bash benchmarks/ut_prefix_validation.sh
export PYTHONPATH=src PYTHONUNBUFFERED=1
nproc; python3 -c "import torch,numpy,scipy,yaml,safetensors,tqdm,matplotlib;print(torch.__version__, numpy.__version__)" || exit 1
FF="train.val_fraction=0 train.epochs=8 train.cosine=true"
R=/tmp/r; mkdir -p $R
run() { python3 benchmarks/refit_validation.py ut-interaction --features runs/ut/features --seeds 1 --folds 1 2 3 4 5 6 7 8 --out $R --per-unit "$@"; }
start=$(date +%s)
timeout 400 bash -c "$(declare -f run); R=$R; run --workers 8 --variant ts '$FF context_net.prefix_frames_min=0 twin_prefixes=true'" > $OUT/ts.log 2>&1 &
timeout 400 bash -c "$(declare -f run); R=$R; run --workers 8 --variant ml '$FF context_net.prefix_frames_min=32'" > $OUT/ml.log 2>&1 &
wait; echo "trained in $(( $(date +%s) - start )) s"
for d in $R/ts/fold_*/seed_1; do
  f=${d#$R/ts/}; mkdir -p $R/ref/$f $R/both/$f
  for n in action_net context_net teachers teacher lstm-ce ms-lstm kd-ms-lstm; do
    [ -d $d/$n ] && cp -al $d/$n $R/ref/$f/; [ -d $R/ml/$f/$n ] && cp -al $R/ml/$f/$n $R/both/$f/; done
  [ -d $R/ml/$f/speed_twin ] && cp -al $R/ml/$f/speed_twin $R/ref/$f/
  [ -d $d/speed_twin ] && cp -al $d/speed_twin $R/both/$f/
done
timeout 150 bash -c "$(declare -f run); R=$R; run --workers 10 --variant ref '$FF context_net.prefix_frames_min=0' --variant ts '$FF context_net.prefix_frames_min=0 twin_prefixes=true' --variant ml '$FF context_net.prefix_frames_min=32' --variant both '$FF twin_prefixes=true context_net.prefix_frames_min=32'" > $OUT/all.log 2>&1
echo "all done in $(( $(date +%s) - start )) s"
tail -c 6000 $OUT/all.log
cd $R && find . -name validation.json -o -name predictions.json | tar czf $OUT/r.tgz -T -
ls -la $OUT
