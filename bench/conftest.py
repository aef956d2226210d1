import sys
from pathlib import Path

# Benchmarks import their helpers (workloads, book_bench, ...) as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))
