"""`python -m tests`: the whole suite on SQLite, then the tests that depend
on the backend with Redis and with PostgreSQL (those two runs side by side:
they wait on their servers much of the time). Three separate pytest runs,
each printed whole and naming its failed tests; the exit status is 1 if any
run failed. Further arguments go to every run (e.g. `python -m tests -x`)."""
import subprocess
import sys
import tempfile

FIRST = ['--backend=sqlite']
SIDE_BY_SIDE = [['--backend=redis'], ['--backend=postgres']]


def command(run, args):
    return [sys.executable, '-m', 'pytest', *run, *args]


def show(cmd):
    print('$', 'python', *cmd[1:], flush=True)


def main(args):
    failed = []
    show(command(FIRST, args))
    if subprocess.call(command(FIRST, args)) != 0:
        failed.append(FIRST[0])
    started = []
    for run in SIDE_BY_SIDE:
        output = tempfile.TemporaryFile(mode='w+')
        cmd = command(run, args)
        started.append((run, cmd, output, subprocess.Popen(cmd, stdout=output,
                                                           stderr=subprocess.STDOUT)))
    for run, cmd, output, proc in started:
        code = proc.wait()
        show(cmd)
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
