"""The first pass of an import: which rows of a file are new, changed, unchanged or repeated, before any is parsed.

Two passes, cheapest first. The line pass reads a CSV's plain lines as bytes and settles each
row whose line is the one its order was last imported from; when it settles every row, the file
is done. The survey reads the rest cell by cell: order numbers, field digests, duplicates within
the file, and the stored digests of the orders they name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import cast

from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from tracker.services.imports.profiles import Profile
from tracker.services.imports.reader import ExportFile
from tracker.services.imports.rows import CellDigest, line_digests


@dataclass
class Survey:
    """What one cheap pass over the file finds before any row is parsed."""

    total: int = 0  # data rows read
    unchanged: int = 0  # rows whose order is stored with the same digest: nothing to do
    conflicting: dict[str, list[int]] = field(default_factory=dict)  # order number → its rows, content differing
    repeated: list[tuple[int, int, str]] = field(default_factory=list)  # (row, the earlier identical row, number)
    pending: set[int] = field(default_factory=set)  # rows to parse: new orders, changed ones, rows without a number
    changed: set[str] = field(default_factory=set)  # stored order numbers whose row differs (the rest are new)


# the stored digests of a batch of order numbers (Core text: the survey runs it once per chunk of the file)
STORED_DIGESTS = text(
    "SELECT order_no, import_hash FROM work_order WHERE source = :source AND order_no IN :numbers"
).bindparams(bindparam("numbers", expanding=True))


@dataclass
class LineSurvey:
    """What the line pass found: rows whose line is the one their order was last imported from."""

    settled: set[int] = field(default_factory=set)  # row numbers, each the first row of its order number
    survey: Survey | None = None  # the whole file settled by its lines: nothing else to read


# the stored line digests of a run of order numbers, in number order, as one text (a file sorted by number
# reads one stretch of the index and hands Python one value per chunk)
STORED_LINES_JOINED = text(
    "SELECT group_concat(line_hash, '') FROM (SELECT line_hash FROM work_order "
    "WHERE source = :source AND order_no BETWEEN :low AND :high ORDER BY order_no LIMIT :limit)"
)
STORED_LINES_BETWEEN = text(
    "SELECT order_no, line_hash FROM work_order WHERE source = :source AND order_no BETWEEN :low AND :high LIMIT :limit"
)
STORED_LINES = text(
    "SELECT order_no, line_hash FROM work_order WHERE source = :source AND order_no IN :numbers"
).bindparams(bindparam("numbers", expanding=True))
STORED_DIGEST = text("SELECT import_hash FROM work_order WHERE source = :source AND order_no = :number")


def line_survey(session: Session, export: ExportFile, profile: Profile, source: str, chunk_rows: int) -> LineSurvey:
    """A CSV's plain lines against the line digests stored with their orders, a chunk at a time.

    A row whose line digest is its order's is unchanged, and its field digest is the stored one:
    it need not be cleaned, named or digested. When every data row of the file is settled so (and
    no order number appears twice), the file is done without the csv module. The pass stops at the
    first line the plain reading cannot vouch for, and after a chunk that settles nothing (a file
    of new orders); :func:`survey_rows` reads the rest.
    """
    result = LineSurvey()
    key = export.line_key
    if key is None:
        return result
    connection = session.connection()
    seen: set[str] = set()
    blanks: list[int] = []
    mapped = bool(profile.values.get("工单编号"))
    complete = True  # every data row so far settled, no number twice
    rows = 0
    # the coming chunk, as parallel lists (row number, order number as stored, line): digested together when full
    pending_rows: list[int] = []
    pending_numbers: list[str] = []
    pending_lines: list[bytes] = []

    def settle() -> int:
        digests = line_digests(key, pending_lines)
        numbers = pending_numbers
        if numbers == sorted(numbers):  # a file sorted by number: no tuple per row
            chunk: list[tuple[str, str, int]] | None = None
            low, high = numbers[0], numbers[-1]
        else:
            chunk = sorted(zip(numbers, digests, pending_rows, strict=True), key=itemgetter(0))
            low, high = chunk[0][0], chunk[-1][0]
        limit = 2 * len(numbers)
        settled_rows = _settled(connection, source, low, high, limit, numbers, digests, pending_rows, chunk, mapped)
        result.settled.update(settled_rows)
        pending_rows.clear()
        pending_numbers.clear()
        pending_lines.clear()
        return len(settled_rows)

    ended = True
    blocks = export.plain_blocks()
    for start, lines, cells in blocks:
        new = _new_numbers(cells, seen)
        if new is not None:
            # every line a row with a number not seen before: taken as a whole, in chunks
            rows += len(new)
            numbers = [profile.map_value("工单编号", cell) for cell in new] if mapped else new
            taken = _take_block(start, lines, numbers, pending_rows, pending_numbers, pending_lines, chunk_rows, settle)
            if taken is not None:
                complete = complete and taken
                continue
            ended = False
            break
        # a block with blank lines, rows without a number or numbers seen before: line by line
        stop = False
        for row_number, line, cell in zip(range(start, start + len(lines)), lines, cells, strict=True):
            if cell is None:
                blanks.append(row_number)
                continue
            rows += 1
            if not cell or cell in seen:
                complete = False  # no number, or twice in the file: reported by the full survey
                continue
            seen.add(cell)
            pending_rows.append(row_number)
            pending_numbers.append(profile.map_value("工单编号", cell) if mapped else cell)
            pending_lines.append(line)
            if len(pending_rows) >= chunk_rows:
                expected = len(pending_rows)
                settled = settle()
                complete = complete and settled == expected
                if not settled:
                    stop = True
                    break
        if stop:
            ended = False
            break
    else:
        ended = export.plain_ended
    blocks.close()
    if pending_rows:
        expected = len(pending_rows)
        complete = settle() == expected and complete
    if ended and complete:
        export.skipped = [(row_number, "空行") for row_number in blanks]
        result.survey = Survey(total=rows, unchanged=rows)
    return result


def _new_numbers(cells: Sequence[str | None], seen: set[str]) -> list[str] | None:
    """A block's cells when each is a number seen neither before nor elsewhere in the block (then added to
    ``seen``); None when the block has a blank line, a row without a number, or a number twice."""
    if None in cells:
        return None
    numbers = cast(list[str], cells)
    fresh = set(numbers)
    if len(fresh) != len(numbers) or "" in fresh or not fresh.isdisjoint(seen):
        return None
    seen |= fresh
    return numbers


def _take_block(
    start: int,
    lines: list[bytes],
    numbers: list[str],
    pending_rows: list[int],
    pending_numbers: list[str],
    pending_lines: list[bytes],
    chunk_rows: int,
    settle: Callable[[], int],
) -> bool | None:
    """A block's rows added to the pending chunk, each full chunk settled as the line-by-line pass settles it.

    True when every full chunk settled whole, False when one settled only in part; None when one
    settled nothing (the pass stops there, as it does line by line).
    """
    whole = True
    at, count = 0, len(lines)
    while at < count:
        take = min(chunk_rows - len(pending_rows), count - at)
        pending_rows.extend(range(start + at, start + at + take))
        pending_numbers.extend(numbers[at : at + take])
        pending_lines.extend(lines[at : at + take])
        at += take
        if len(pending_rows) >= chunk_rows:
            expected = len(pending_rows)
            settled = settle()
            if not settled:
                return None
            whole = whole and settled == expected
    return whole


def _settled(
    connection: Connection,
    source: str,
    low: str,
    high: str,
    limit: int,
    numbers: list[str],
    digests: list[str],
    rows: list[int],
    chunk: list[tuple[str, str, int]] | None,
    mapped: bool,
) -> list[int]:
    """The rows of a chunk whose line digest is the one stored with their order.

    ``chunk`` is None when ``numbers`` are in order already, else (number, digest, row) sorted by number.
    """
    # SQLite compares text by its bytes, as Python sorts it; PostgreSQL by the database's collation
    between = connection.dialect.name == "sqlite"
    if between and not mapped:
        # every line is its order's when the stored digests of the numbers from the first to the last
        # are the chunk's, in number order (a line's bytes hold its number: no other order has its digest)
        joined = connection.execute(
            STORED_LINES_JOINED, {"source": source, "low": low, "high": high, "limit": limit}
        ).scalar()
        if joined == ("".join(digests) if chunk is None else "".join(map(itemgetter(1), chunk))):
            return list(rows)
    found = (
        connection.execute(STORED_LINES_BETWEEN, {"source": source, "low": low, "high": high, "limit": limit + 1}).all()
        if between
        else []
    )
    if not between or len(found) > limit:  # numbers scattered over the stored ones: looked up one by one
        found = connection.execute(STORED_LINES, {"source": source, "numbers": list(set(numbers))}).all()
    stored: dict[str, str | None] = dict(found)
    get = stored.get
    return [row for row, number, digest in zip(rows, numbers, digests, strict=True) if get(number) == digest]


def survey_rows(
    session: Session,
    export: ExportFile,
    profile: Profile,
    source: str,
    chunk_rows: int,
    settled: set[int] | None = None,
) -> Survey:
    """One pass over order numbers and digests: duplicates within the file, and rows already stored as they are.

    An unchanged file is settled here: its rows are never parsed and the file is not read again.
    ``settled`` holds the rows the line pass found unchanged (each the first row of its number):
    they are not digested or looked up; should the number come again, its digest is the stored one.
    """
    settled = settled or set()
    survey = Survey()
    first: dict[str, tuple[str | None, int]] = {}  # order number in the file → (digest, row) of its first row
    stored_same: set[str] = set()  # order numbers in the file whose first row matches the stored digest
    batch: list[tuple[str, str, str]] = []  # (number in the file, number as stored, digest) awaiting the lookup

    connection = session.connection()

    def look_up() -> None:
        # a profile's value map may send two numbers of the file to one stored order: each is judged
        found = connection.execute(STORED_DIGESTS, {"source": source, "numbers": list({n for _, n, _ in batch})})
        stored: dict[str, str | None] = {order_no: digest for order_no, digest in found}
        for number, order_no, digest in batch:
            if order_no in stored:
                if stored[order_no] == digest:
                    stored_same.add(number)
                else:
                    survey.changed.add(order_no)
        batch.clear()

    digest_of = CellDigest(export)
    order_index = export.order_index
    for row_number, cells in export.records():
        survey.total += 1
        number = cells[order_index] if order_index is not None and order_index < len(cells) else ""
        if not number:
            survey.pending.add(row_number)  # parsed, so that its error is reported
            continue
        if row_number in settled:
            first[number] = (None, row_number)
            stored_same.add(number)
            continue
        digest = digest_of(row_number, cells)
        earlier = first.get(number)
        if earlier is not None and earlier[0] is None:  # the first row was settled by its line: its digest is stored
            params = {"source": source, "number": profile.map_value("工单编号", number)}
            earlier = first[number] = (connection.execute(STORED_DIGEST, params).scalar(), earlier[1])
        if earlier is None:
            first[number] = (digest, row_number)
            stored = profile.map_value("工单编号", number)
            if stored:
                batch.append((number, stored, digest))
                if len(batch) >= chunk_rows:
                    look_up()
        elif digest != earlier[0] or number in survey.conflicting:
            survey.conflicting.setdefault(number, [earlier[1]]).append(row_number)
        else:
            survey.repeated.append((row_number, earlier[1], number))
    if batch:
        look_up()
    for number, (_, row_number) in first.items():
        if number in survey.conflicting:
            continue
        if number in stored_same:
            survey.unchanged += 1
        else:
            survey.pending.add(row_number)
    return survey
