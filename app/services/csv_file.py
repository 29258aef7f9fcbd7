"""CSV files as ClinicDesk writes them (SPEC §5): UTF-8, RFC 4180 quoting
with CRLF line ends, formula cells neutralised, streamed to a temp file that
is renamed into place when complete. Used by the history export and by
report runs."""
import csv
import itertools
import os
import uuid

# A cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = '=+-@\t\r'
CHUNK_ROWS = 2000


def guard(text):
    """`text` as a spreadsheet shows it: a leading ' keeps a formula inert."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def write_csv(path, header, rows, on_progress=None, bom=False):
    """Stream `rows` to `path` (temp file, fsync, atomic rename); returns
    (rows, bytes). Cells are written as given: guard text cells first.
    Memory stays flat: rows are taken from the iterator a chunk at a time,
    and `on_progress(rows so far)` is called after each chunk. `bom` starts
    the file with a UTF-8 byte order mark (Excel then reads it as UTF-8)."""
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex[:8]}.tmp')
    count = 0
    rows = iter(rows)
    try:
        with open(tmp, 'w', newline='', encoding='utf-8-sig' if bom else 'utf-8') as fh:
            writer = csv.writer(fh, lineterminator='\r\n')
            writer.writerow(header)
            while True:
                chunk = list(itertools.islice(rows, CHUNK_ROWS))
                if not chunk:
                    break
                writer.writerows(chunk)
                count += len(chunk)
                if on_progress:
                    on_progress(count)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count, path.stat().st_size
