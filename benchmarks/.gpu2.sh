for args in "--batch-size 64" "--batch-size 256" "--batch-size 64" "--batch-size 256" "--batch-size 256 --compile graph"; do
  python3 benchmarks/throughput.py configs/ultra.toml --device cuda --epochs 40 $args | tee -a $OUT/throughput2.jsonl
done
