"""SPEC §6: `demo-data` with 100,000 appointments must finish in under a minute.

Fills a fresh SQLite database in a temporary data dir (50 doctors, 2,000
patients) and prints the elapsed time and its ratio to the 60 s bar.

    python bench/demo_data_100k.py [--runs N]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.clock import Clock  # noqa: E402
from app.db import database, init_database  # noqa: E402
from app.migrations import apply_migrations  # noqa: E402
from app.services.demo_data import generate  # noqa: E402
from app.settings import load  # noqa: E402

BAR_SECONDS = 60.0
SIZE = {'doctors': 50, 'patients': 2000, 'appointments': 100_000}


def one_run(quiet):
    with tempfile.TemporaryDirectory(prefix='demo-bench-') as data_dir:
        settings = load({'CLINIC_DATA_DIR': data_dir})
        init_database(settings.database_url)
        apply_migrations()
        report = None if quiet else (lambda message: print(f'  {message}', flush=True))
        started = time.perf_counter()
        with database.connection_context():
            counts = generate(Clock(settings.tz), progress=report, **SIZE)
        elapsed = time.perf_counter() - started
    print(f'run: {elapsed:.2f} s  {counts}', flush=True)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=1)
    parser.add_argument('--quiet', action='store_true', help='no progress lines')
    args = parser.parse_args()
    figure = statistics.median(one_run(args.quiet) for _ in range(args.runs))
    print(f'demo-data {SIZE["appointments"]:,} appointments: {figure:.2f} s '
          f'(median of {args.runs}); ratio {figure:.2f} s / {BAR_SECONDS:.0f} s = '
          f'{figure / BAR_SECONDS:.2f} (bar: < 1.00)')
    return 0 if figure < BAR_SECONDS else 1


if __name__ == '__main__':
    sys.exit(main())
