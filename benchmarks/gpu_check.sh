#!/usr/bin/env bash
# The GPU checks of the speed issue, in one go (about 5 minutes on an H100 / H200):
# the fast path's correctness, engine vs plain-loop throughput, and ultra.toml's wall time.
# Needs vaeframe importable (pip install . or PYTHONPATH) and a CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
out=${OUT:-/tmp/vaeframe-gpu-check}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__)"

echo "== fast-path checks"
$PY benchmarks/gpu_check.py configs/ultra.toml | tee "$out/checks.jsonl"

echo "== throughput: engine vs plain eager loop (same process, same data)"
for args in "--batch-size 64" "--batch-size 256" \
            "--batch-size 64 --compile graph" "--batch-size 256 --compile graph" \
            "--batch-size 256 --compile graph --precision bf16" \
            "--batch-size 256 --compile inductor"; do
  $PY benchmarks/throughput.py configs/ultra.toml --device cuda --epochs 6 $args \
    | tee -a "$out/throughput.jsonl"
done

echo "== wall time of the main job on the GPU"
for mode in off graph; do
  start=$(date +%s%N)
  $PY -m vaeframe run configs/ultra.toml --set train.device=\"cuda\" --set train.compile=\"$mode\" \
    --set run.output_dir=\"$out/runs-$mode\" --set 'loggers=[{name="jsonl"}]' || echo "run failed"
  end=$(date +%s%N)
  echo "{\"job\": \"ultra.toml\", \"compile\": \"$mode\", \"wall_s\": $(( (end - start) / 1000000 ))e-3}" \
    | tee -a "$out/wall.jsonl"
  $PY -c "import json,glob; s=json.load(open(glob.glob('$out/runs-$mode/*/summary.json')[0])); print(json.dumps({k: s['final'][k] for k in ('train_nonblack_acc','heldout_nonblack_acc','active_units','kl_per_dim_min')} | {'wall_time_s': s['wall_time_s'], 'train_grids_per_s': s['train_grids_per_s']}))"
done
