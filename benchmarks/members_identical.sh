#!/usr/bin/env bash
# members.csv of the shipped sweep configs, here and at another commit, compared byte for byte.
# Usage: benchmarks/members_identical.sh BASE_COMMIT   (e.g. e8414b9, main before issue 17)
# Simulate configs run shortened (time.t1, model.nx) and training configs with a few Adam steps,
# the same settings on both sides; each line says IDENTICAL or DIFFERS.
set -uo pipefail
base=${1:?usage: $0 BASE_COMMIT}
here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$here/.venv/bin/python}
work=$(mktemp -d)
git -C "$here" worktree add --detach "$work/base" "$base" >/dev/null
trap 'git -C "$here" worktree remove --force "$work/base"; rm -rf "$work"' EXIT
export NEUROCLI_CACHE_DIR="$work/cache"
run() {  # tree name args... -> the run directory
  local tree=$1 name=$2; shift 2
  (cd "$tree" && PYTHONPATH="$tree" "$py" -m neurocli "$@" --output-root "$work/out/$(basename "$tree")" --name "$name" \
    2>"$work/$name-$(basename "$tree").err" | tail -1)
}
status=0
while read -r name args; do
  [ -z "$name" ] && continue
  a=$(eval run "$work/base" "$name" "$args"); b=$(eval run "$here" "$name" "$args")
  if [ -f "$a/members.csv" ] && [ -f "$b/members.csv" ] && cmp -s "$a/members.csv" "$b/members.csv"; then
    echo "IDENTICAL $name ($(($(wc -l < "$a/members.csv") - 1)) members): $args"
  else
    echo "DIFFERS   $name: $args"; status=1
  fi
done <<'LIST'
smoke simulate --config configs/smoke_simulate.yaml
fi_curve simulate --config configs/hh_fi_curve.yaml --set time.t1=100
fi_map simulate --config configs/hh_fi_map.yaml --set time.t1=30
rd_front simulate --config configs/rd_front_speed.yaml --set model.nx=101 --set time.t1=4
cable_temp simulate --config configs/hh_cable_temperature.yaml --set model.nx=101 --set time.t1=6
cable_map simulate --config configs/cable_velocity_map.yaml --set model.nx=101 --set time.t1=8
pinn_map train-pinn --config configs/pinn_a_k_map.yaml --set "phases=[{optimizer: adam, iterations: 40, lr: 0.01}]" --set output.checkpoint_every=20
a_sweep train-pinn --config configs/a_sweep.yaml --set "phases=[{optimizer: adam, iterations: 40, lr: 0.01}]" --set output.checkpoint_every=20
ude_seeds train-ude --config configs/ude_seeds.yaml --set sweep.linspace.stop=2 --set sweep.linspace.num=3 --set "train.phases=[{optimizer: adam, iterations: 20, lr: 0.01}]"
LIST
exit $status
