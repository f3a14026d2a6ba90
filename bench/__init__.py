"""CloudBox benchmarks: backup and restore against tar/gzip on the same data, in one run.

`python -m bench.run --scale 0.1` (or `make bench SCALE=0.1`). See docs/performance.md.
The bench drives real `cloudbox serve` / `cloudbox worker` processes and never imports the
`tests` package.
"""
