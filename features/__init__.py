"""Table contracts, loading, validation and quarantine, point-in-time features, and the synthetic world."""

import os

# POLARS_THP=1 makes polars configure its jemalloc, when polars is imported, to ask the kernel for transparent huge
# pages (the kernel's default mode, 'madvise', grants them only when asked). The first touch of fresh memory then
# faults in 2 MiB at a time instead of 4 KiB: a 12-date build at 1M enterprises spends about a third less time in
# the kernel (sys 16 s against 25 s; wall 33 s against 38-46 s) with the same peak RSS. It takes effect when riskgen
# is imported before polars, as the CLI, the flows and the benchmarks do; a value set by the user wins.
os.environ.setdefault("POLARS_THP", "1")
