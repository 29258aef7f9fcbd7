"""Run every bench of SPEC §7 in one go and print one table.

    python bench/run_all.py [--only NAME ...] [--large] [--growth]

--large adds the benches on a million appointments (their demo database is
built once, minutes, then kept in the temp dir; see bench/harness.py).
--growth adds bench/growth.py (every size up to 1,000,000 appointments: long)
and prints its table after the others.

Each bench script prints its figures on lines that name their bar (and the
ratio against it); this runner collects those lines. Benches run one after another, never in
parallel: the machine has two cores and the figures are ratios measured side
by side within each script.
"""
import argparse
import os
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
    'stats_p4.py --postgres',
    'stats_p4.py --postgres --redis',
    'reports_100k.py',
    'backup_100k.py',
    'calendar_slots.py',
    'patient_search.py',
    'reception_day.py',
]

# On a million appointments: each needs minutes.
LARGE = [
    'web_memory.py',
    'export_p1.py --appointments 1000000 --runs 3',
]

LINE = re.compile(r'\bbar\b', re.I)
# "bar <= 2.5x", "bar: >= 0.8", "bar 120 MB": the operator (<= when none) and the value.
BAR = re.compile(r'\bbar:?\s*(<=|>=|<|>)?\s*([\d.]+)\s*(x\b|ms\b|MB\b|s\b)?')
# "ratio 0.84", "ratio 20 / 250 ms = 0.08", "ratio (median of runs): 2.30x"
RATIO = re.compile(r'\bratio(?:[^=;(]*=)?\s*([\d.]+)|\bratio\D*?([\d.]+)')


def verdict(line):
    """'pass' or 'FAIL' when the line states a bar and a ratio, else ''.
    A bar in x or without a unit is the ratio's own bar; one in ms, MB or s
    is met by a ratio (figure / bar) within 1."""
    bar, ratio = BAR.search(line), RATIO.search(line.split('bar', 1)[-1]) or RATIO.search(line)
    if not bar or not ratio:
        return ''
    op, value, unit = bar.group(1) or '<=', float(bar.group(2).rstrip('.')), bar.group(3)
    limit = 1.0 if unit in ('ms', 'MB', 's') else value
    figure = float((ratio.group(1) or ratio.group(2)).rstrip('.'))
    met = {'<=': figure <= limit, '<': figure < limit,
           '>=': figure >= limit, '>': figure > limit}[op]
    return 'pass' if met else 'FAIL'


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
    parser.add_argument('--large', action='store_true',
                        help='also the benches on a million appointments')
    parser.add_argument('--growth', action='store_true',
                        help='also run bench/growth.py (10k, 100k and 1M databases: long)')
    args = parser.parse_args()
    chosen = [b for b in BENCHES + (LARGE if args.large else [])
              if not args.only or b.split()[0] in args.only or b.split()[0][:-3] in args.only]
    rows = []
    for script in chosen:
        if not (HERE / script.split()[0]).exists():
            rows.append((script, [f'{script}: missing'], 0.0))
            continue
        print(f'running {script} ...', file=sys.stderr, flush=True)
        lines, seconds = run(script, args.timeout)
        rows.append((script, lines, seconds))
    print(f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end')
    print('| bench | figure (with its bar and ratio) | verdict | s |')
    print('|---|---|---|---|')
    for script, lines, seconds in rows:
        for n, line in enumerate(lines):
            print(f'| {script if n == 0 else ""} | {line} | {verdict(line)} | '
                  f'{f"{seconds:.0f}" if n == 0 else ""} |')
    if args.growth:
        print('running growth.py ...', file=sys.stderr, flush=True)
        # Its own table (one row per operation, one column per size) follows.
        subprocess.run([sys.executable, str(HERE / 'growth.py')], cwd=HERE.parent,
                       timeout=args.timeout * 4)


if __name__ == '__main__':
    main()
