#!/usr/bin/env bash
# The GPU figures of sweeps and of the main job's wall time, in one go (about 5 minutes on an
# H100 / H200; benchmarks/README.md says how to run it on a lent machine):
#   1. `vaeframe run configs/ultra.toml` with the CUDA-graph fast path, process start to exit,
#      three times, each with its summary's time_s (where the wall time went);
#   2. configs/ablation.toml's eight points, 100 epochs each, with --jobs 8 on the one GPU and
#      the graph fast path, command start to exit (the report included);
#   3. benchmarks/sweep.py: the eight points at 20 epochs one after another, then --jobs 8;
#   4. benchmarks/ensemble.py: 8 models as 8 processes at once against one vmap ensemble;
#   5. on CUDA, ultra.toml's training throughput with the graph and with torch.compile.
# Needs vaeframe installed with its entry points, and a CUDA device. EPOCHS, RUNS and JOBS
# shrink it for a dry run elsewhere (DEVICE=cpu COMPILE=off ENSEMBLE_EPOCHS=1).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
out=${OUT:-/tmp/vaeframe-gpu-sweep}
device=${DEVICE:-cuda}
compile=${COMPILE:-graph}
epochs=${EPOCHS:-}         # empty: each run file's own (100)
runs=${RUNS:-3}
jobs=${JOBS:-8}
bench_epochs=${BENCH_EPOCHS:-20}
mkdir -p "$out"
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
$PY -c "import torch, os; print('torch', torch.__version__, 'cpus', len(os.sched_getaffinity(0)))"
sets=(--set "train.device=\"$device\"" --set "train.compile=\"$compile\"")
if [ -n "$epochs" ]; then sets+=(--set "train.epochs=$epochs"); fi
now() { date +%s.%N; }

echo "== 1. vaeframe run configs/ultra.toml, compile=$compile, process start to exit"
for i in $(seq "$runs"); do
  dir="$out/ultra-$i"
  start=$(now)
  $PY -m vaeframe run configs/ultra.toml "${sets[@]}" --set "run.output_dir=\"$dir\"" \
    > "$out/ultra-$i.log" 2>&1
  code=$?
  end=$(now)
  $PY - "$dir" "$start" "$end" "$code" <<'EOF' | tee -a "$out/ultra.jsonl"
import json, sys
from pathlib import Path
run_dir, start, end, code = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
found = sorted(Path(run_dir).glob("*/summary.json"))
s = json.loads(found[0].read_text()) if found else {}
final = s.get("final", {})
print(json.dumps({"job": "ultra.toml", "exit_code": code, "wall_s": round(end - start, 2),
                  "time_s": s.get("time_s"), "loop_s": s.get("wall_time_s"),
                  "train_grids_per_s": s.get("train_grids_per_s"),
                  "train_nonblack_acc": final.get("train_nonblack_acc"),
                  "heldout_nonblack_acc": final.get("heldout_nonblack_acc"),
                  "criteria_passed": [c["passed"] for c in s.get("criteria", [])]}))
EOF
done

echo "== 2. vaeframe sweep configs/ablation.toml --jobs $jobs, compile=$compile"
start=$(now)
$PY -m vaeframe sweep configs/ablation.toml --jobs "$jobs" "${sets[@]}" --dir "$out/ablation" \
  > "$out/ablation.log" 2>&1
code=$?
end=$(now)
$PY - "$out/ablation" "$start" "$end" "$code" <<'EOF' | tee -a "$out/ablation.jsonl"
import json, sys
from pathlib import Path
sweep, start, end, code = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
found = sorted(sweep.glob("*/summary.json"))
points = [json.loads(p.read_text()) for p in found]
report = sweep / "report" / "report.md"
print(json.dumps({
    "job": "ablation.toml --jobs", "exit_code": code, "wall_s": round(end - start, 2),
    "points": len(points),
    "points_s": round(max(p.stat().st_mtime for p in found) - start, 2) if found else None,
    "report_s": round(report.stat().st_mtime - max(p.stat().st_mtime for p in found), 2)
    if found and report.exists() else None,
    "per_point": [{"name": p["name"], "time_s": p.get("time_s"),
                   "heldout_nonblack_acc": p["final"]["heldout_nonblack_acc"]} for p in points]}))
EOF

echo "== 3. benchmarks/sweep.py: sequential against --jobs $jobs, $bench_epochs epochs a point"
$PY benchmarks/sweep.py configs/ablation.toml --epochs "$bench_epochs" --jobs "$jobs" \
  --device "$device" --set "train.compile=\"$compile\"" | tee -a "$out/sweep-benchmark.jsonl"

echo "== 4. benchmarks/ensemble.py: $jobs models as $jobs processes against one vmap ensemble"
graph=(); if [ "$compile" = graph ]; then graph=(--graph); fi
$PY benchmarks/ensemble.py configs/ultra.toml --models "$jobs" --device "$device" \
  --epochs "${ENSEMBLE_EPOCHS:-10}" "${graph[@]}" | tee -a "$out/ensemble.jsonl"

if [ "$device" = cuda ]; then
  echo "== 5. training throughput of ultra.toml at its batch size: graph against inductor"
  for mode in graph inductor; do
    $PY benchmarks/throughput.py configs/ultra.toml --device cuda --epochs 10 --compile "$mode" \
      | tee -a "$out/throughput.jsonl"
  done
fi
