"""`python -m tests`: the whole suite on SQLite (over two pytest workers),
and beside it the tests that depend on the backend, with Redis and with
PostgreSQL. Three pytest runs at once: much of a test's time is spent
waiting on its servers, browser and worker processes, so on two cores the
three together take little longer than the first alone. Each run is printed
whole and names its failed tests; the exit status is 1 if any run failed.
Further arguments go to every run (e.g. `python -m tests -x`)."""
import subprocess
import sys
import tempfile

RUNS = [
    # Whole files to one worker: a file's tests may build on each other.
    ['--backend=sqlite', '-n', '2', '--dist', 'loadfile'],
    ['--backend=redis'],
    ['--backend=postgres'],
]


def command(run, args):
    return [sys.executable, '-m', 'pytest', *run, *args]


def main(args):
    started = []
    for run in RUNS:
        output = tempfile.TemporaryFile(mode='w+')
        cmd = command(run, args)
        started.append((run, cmd, output, subprocess.Popen(cmd, stdout=output,
                                                           stderr=subprocess.STDOUT)))
    failed = []
    for run, cmd, output, proc in started:
        code = proc.wait()
        print('$', 'python', *cmd[1:], flush=True)
        output.seek(0)
        sys.stdout.write(output.read())
        sys.stdout.flush()
        if code != 0:
            failed.append(run[0])
    if failed:
        print('failed:', ', '.join(failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
