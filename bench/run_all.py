"""Run every bench of SPEC §7 in one go and print one table.

    python bench/run_all.py [--only NAME ...] [--growth]

--growth adds bench/growth.py (every size up to 1,000,000 appointments: long)
and prints its table after the others.

Each bench script prints its figures on lines that name their bar (and the
ratio against it); this runner collects those lines. Benches run one after another, never in
parallel: the machine has two cores and the figures are ratios measured side
by side within each script.
"""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Order: cheap first, so a broken bench shows up early.
BENCHES = [
    'startup_memory.py',
    'demo_data_100k.py',
    'demo_data_100k.py --appointments 1000000',
    'export_p1.py',
    'export_p5.py',
    'reminders_p2.py',
    'reminders_hours_before.py',
    'monthly_reports_p3.py',
    'stats_p4.py',
    'stats_p4.py --redis',
    'reports_100k.py',
    'backup_100k.py',
    'calendar_slots.py',
    'patient_search.py',
    'reception_day.py',
]

LINE = re.compile(r'\bbar\b', re.I)


def run(script, timeout):
    started = time.monotonic()
    name, *options = script.split()
    try:
        result = subprocess.run([sys.executable, str(HERE / name), *options], capture_output=True,
                                text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return [f'{script}: timed out after {timeout} s'], time.monotonic() - started
    lines = [line.strip() for line in result.stdout.splitlines() if LINE.search(line)]
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ['no output']
        lines.append(f'{script}: exited {result.returncode}: {tail[0]}')
    return lines or [f'{script}: printed no figures'], time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--only', nargs='*', help='bench file names to run')
    parser.add_argument('--timeout', type=int, default=900)
    parser.add_argument('--growth', action='store_true',
                        help='also run bench/growth.py (10k, 100k and 1M databases: long)')
    args = parser.parse_args()
    chosen = [b for b in BENCHES
              if not args.only or b.split()[0] in args.only or b.split()[0][:-3] in args.only]
    rows = []
    for script in chosen:
        if not (HERE / script.split()[0]).exists():
            rows.append((script, [f'{script}: missing'], 0.0))
            continue
        print(f'running {script} ...', file=sys.stderr, flush=True)
        lines, seconds = run(script, args.timeout)
        rows.append((script, lines, seconds))
    print('| bench | figures (each with its bar and ratio) | s |')
    print('|---|---|---|')
    for script, lines, seconds in rows:
        print(f'| {script} | {"<br>".join(lines)} | {seconds:.0f} |')
    if args.growth:
        print('running growth.py ...', file=sys.stderr, flush=True)
        # Its own table (one row per operation, one column per size) follows.
        subprocess.run([sys.executable, str(HERE / 'growth.py')], cwd=HERE.parent,
                       timeout=args.timeout * 4)


if __name__ == '__main__':
    main()
