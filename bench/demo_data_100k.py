"""SPEC §6: `demo-data` with 100,000 appointments must finish in under a
minute; and with 1,000,000 (issue 18) in under a minute with a peak RSS of
at most 150 MB.

Runs `python run.py demo-data` on a fresh SQLite data dir (50 doctors;
2,000 patients, or 20,000 from 1,000,000 appointments on) and prints the
elapsed time and the process's peak RSS against their bars.

    python bench/demo_data_100k.py [--appointments N] [--runs N]
"""
import argparse
import os
import statistics
import sys
import tempfile

import harness

BAR_SECONDS = 60.0
BAR_RSS_MB = 150.0


def shape(appointments):
    return {'doctors': 50, 'patients': 20_000 if appointments >= 1_000_000 else 2_000}


def one_run(appointments):
    with tempfile.TemporaryDirectory(prefix='demo-bench-') as data_dir:
        env = {**os.environ, 'CLINIC_DATA_DIR': data_dir}
        for name in ('DATABASE_URL', 'REDIS_URL'):
            env.pop(name, None)
        seconds, peak_mb = harness.run_demo_data(env, appointments, **shape(appointments))
    print(f'run: {seconds:.2f} s, peak RSS {peak_mb:.0f} MB', flush=True)
    return seconds, peak_mb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--appointments', type=int, default=100_000)
    parser.add_argument('--runs', type=int, default=1)
    args = parser.parse_args()
    runs = [one_run(args.appointments) for _ in range(args.runs)]
    seconds = statistics.median(s for s, _ in runs)
    peak = max(p for _, p in runs)
    sizes = ', '.join(f'{v:,} {k}' for k, v in shape(args.appointments).items())
    print(f'demo-data {args.appointments:,} appointments ({sizes}): {seconds:.2f} s '
          f'(median of {args.runs}); ratio {seconds:.2f} s / {BAR_SECONDS:.0f} s = '
          f'{seconds / BAR_SECONDS:.2f} (bar: < 1.00); peak RSS {peak:.0f} MB '
          f'(bar: <= {BAR_RSS_MB:.0f} MB)')
    return 0 if seconds < BAR_SECONDS and peak <= BAR_RSS_MB else 1


if __name__ == '__main__':
    sys.exit(main())
