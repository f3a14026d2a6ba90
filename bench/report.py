"""Print the table of a saved run, as text or Markdown (for docs/performance.md).

python -m bench.report bench/results/latest.json [--markdown]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.run import markdown_table, print_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, nargs="?", default=Path("bench/results/latest.json"))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    results = json.loads(args.path.read_text())
    if args.markdown:
        print(markdown_table(results))
        m = results["machine"]
        print(
            f"\nScale {results['scale']} ({results['dataset_summary']}), {results['rounds']} "
            f"rounds, medians (min-max). Machine: {m['nproc']} x {m['cpu_model']}, "
            f"{m.get('memory_gib')} GiB, Python {m['python']}, SQLite {m.get('sqlite')}, "
            f"load average {m.get('load_average_at_start')} at start"
            + (f", {m['load_average_at_end']} at end" if m.get("load_average_at_end") else "")
            + f"; {results['started_at']}."
        )
    else:
        print_table(results)


if __name__ == "__main__":
    main()
