"""Handing freed memory back to the system after a large job.

A batch job (monthly reports, an export, a report run) reads and renders
tens of MB that are garbage once it returns; CPython frees them, but glibc
keeps the freed heap pages, so an idle worker stays at its peak."""
import ctypes
import ctypes.util
import functools
import gc


@functools.cache
def libc():
    """The C library, or None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


def give_back():
    """Collect cycles, then ask glibc to return free heap pages (elsewhere:
    nothing to ask)."""
    gc.collect()
    try:
        libc().malloc_trim(0)
    except AttributeError:
        pass
