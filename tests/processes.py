"""The processes a test started, found by pid through /proc (not by parsing
`ps`, whose text is cut to the terminal width), and stopped for good."""
import contextlib
import os
import signal
from pathlib import Path
from typing import NamedTuple


class Stat(NamedTuple):
    state: str
    ppid: int
    start: int  # clock ticks after boot: tells a process from a later one with its pid


def stat(pid):
    """The Stat of a live pid, or None once it is gone."""
    try:
        raw = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces; the fields follow it.
    fields = raw[raw.rindex(')') + 2:].split()
    return Stat(fields[0], int(fields[1]), int(fields[19]))


def command_line(pid):
    """The arguments of a live pid; [] for a zombie or a gone process."""
    try:
        raw = Path(f'/proc/{pid}/cmdline').read_bytes()
    except OSError:
        return []
    return [arg.decode(errors='replace') for arg in raw.split(b'\0') if arg]


def children(parent_pid):
    """{pid: Stat} of the processes whose parent is `parent_pid`."""
    found = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            info = stat(entry.name)
            if info and info.ppid == parent_pid:
                found[int(entry.name)] = info
    return found


def child_pids(parent_pid):
    """{last argument of its command line: pid} of each running child, e.g.
    {'web': 123, 'worker': 124} for the supervisor."""
    return {args[-1]: pid for pid in children(parent_pid)
            if (args := command_line(pid))}


def child_commands(parent_pid):
    """The command line of each running child, as one string."""
    return [' '.join(args) for pid in children(parent_pid) if (args := command_line(pid))]


class ProcessTree:
    """A started process and every process below it. `kill` leaves none of
    them running, even those the root no longer parents (a child of a dead
    supervisor is adopted by init, so it is remembered from earlier looks)."""

    def __init__(self, proc):
        self.proc = proc
        self.seen = {}  # pid -> start, of every descendant ever found

    def descendants(self):
        # The root's pid is ours only until it is reaped: poll() first.
        pending = [self.proc.pid] if self.proc.poll() is None else []
        pending += [pid for pid, start in self.seen.items() if self._same(pid, start)]
        found = {}
        while pending:
            for pid, info in children(pending.pop()).items():
                found[pid] = info
                pending.append(pid)
        self.seen.update({pid: info.start for pid, info in found.items()})
        return found

    def alive(self):
        """The descendants, found now or remembered, still running."""
        self.descendants()
        return [pid for pid, start in self.seen.items() if self._same(pid, start)]

    @staticmethod
    def _same(pid, start):
        info = stat(pid)
        return info is not None and info.start == start and info.state != 'Z'

    def kill(self):
        if self.proc.poll() is None:
            # Frozen, the root cannot start a replacement while we look.
            os.kill(self.proc.pid, signal.SIGSTOP)
        for pid in self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
