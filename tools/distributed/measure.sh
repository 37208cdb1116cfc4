#!/usr/bin/env bash
# Tokens/s with 1 process (1 and 2 threads) and 2 MPI processes at the same global batch, interleaved and repeated,
# and the collectives' share of step time. Run from the repository root after `dotnet build -c Release`:
#   tools/distributed/measure.sh CONFIG.yaml [STEPS] [REPEATS]
# 1 process runs gradient_accumulation_steps 2, 2 processes run 1 (the config's micro_batch_size each).
set -uo pipefail
config=$1; steps=${2:-20}; repeats=${3:-3}
dll=src/PeftSharp.Cli/bin/Release/net10.0/PeftSharp.Cli.dll
out=$(mktemp -d)
common="--val_set_size=0 --eval_steps=0 --save_steps=0 --logging_steps=5 --tensorboard=false --max_steps=$steps"
mpi=(mpirun -np 2)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
report() { # label dir
  python3 - "$1" "$2" <<'PY'
import json, re, sys
label, d = sys.argv[1], sys.argv[2]
points = [json.loads(l) for l in open(d + "/metrics.jsonl") if '"train"' in l]
tps = [p["tokens_per_second"] for p in points[1:]] or [points[0]["tokens_per_second"]]
log = open(d + ".log", errors="replace").read()
m = re.search(r"data parallel: ([\d.]+) s of ([\d.]+) s in collectives \(([\d.]+)%\), ([\d.]+) ms per step", log)
share = f"; collectives {m.group(3)}% ({m.group(4)} ms of {1000 * float(m.group(2)) / points[-1]['step']:.0f} ms per step)" if m else ""
print(f"{label}: {sum(tps) / len(tps):.0f} tok/s (windows after the first: {', '.join(f'{t:.0f}' for t in tps)}){share}")
PY
}
for rep in $(seq "$repeats"); do
  echo "-- repeat $rep, $(uptime)"
  PEFTSHARP_THREADS=1 dotnet $dll train "$config" $common --gradient_accumulation_steps=2 --output_dir=$out/a$rep > $out/a$rep.log 2>&1 && report "1 process, 1 thread   " $out/a$rep
  dotnet $dll train "$config" $common --gradient_accumulation_steps=2 --output_dir=$out/b$rep > $out/b$rep.log 2>&1 && report "1 process, 2 threads  " $out/b$rep
  "${mpi[@]}" dotnet $dll train "$config" $common --gradient_accumulation_steps=1 --output_dir=$out/c$rep > $out/c$rep.log 2>&1 && report "2 processes x 1 thread" $out/c$rep
done
echo "-- end, $(uptime); runs in $out"
