"""`python -m tests`: the whole suite on SQLite, then the tests that depend on
the backend with Redis and with PostgreSQL. Three separate pytest runs, each
naming its failed tests; the exit status is 1 if any run failed. Further
arguments go to every run (e.g. `python -m tests -x`)."""
import subprocess
import sys

RUNS = [['--backend=sqlite'], ['--backend=redis'], ['--backend=postgres']]


def main(args):
    failed = []
    for run in RUNS:
        command = [sys.executable, '-m', 'pytest', *run, *args]
        print('$', 'python', *command[1:], flush=True)
        if subprocess.call(command) != 0:
            failed.append(run[0])
    if failed:
        print('failed:', ', '.join(failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
