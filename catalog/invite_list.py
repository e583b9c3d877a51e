"""Turn what an organizer pastes or uploads into people to add to or invite to an event.

Nothing is dropped silently: every entry read ends up either in `valid` (once per person, as
grouped by `luma.identity_key`) or in `invalid` with a reason the organizer can act on, and
repeats are counted, so `total` always equals the number of entries read. Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from luma import InvalidEmailError, identity_key, normalize_email

MAX_ENTRIES = 5000
RAW_LIMIT = 200
NO_EMAIL = "no email address in this line"

_ANGLE = re.compile(r"^(?P<name>.*?)<(?P<addr>[^<>]*)>\s*$", re.DOTALL)
_SNIFF_SAMPLE = 8192
_SNIFF_DELIMITERS = ",;\t|"
_EMAIL_HEADERS = frozenset({"email", "emailaddress", "mail"})
_NAME_HEADERS = frozenset({"name", "fullname"})
_FIRST_HEADERS = frozenset({"firstname", "first", "givenname"})
_LAST_HEADERS = frozenset({"lastname", "last", "surname", "familyname"})


class TooManyEntries(ValueError):
    """More entries than one import may hold; refused whole so nobody gets half a list."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        super().__init__(f"too many entries: at most {limit} people can be added at once")
        self.limit = limit


@dataclass(frozen=True)
class Invitee:
    """One person to invite: the address we send (normalized) and the key that dedupes it."""

    email: str
    name: str | None
    key: str


@dataclass(frozen=True)
class Rejected:
    """An entry we could not use, as given (clipped), with why, so it can be fixed."""

    raw: str
    reason: str


@dataclass(frozen=True)
class InviteList:
    """The outcome of one paste or upload; `total` accounts for every entry read."""

    valid: list[Invitee] = field(default_factory=list)
    invalid: list[Rejected] = field(default_factory=list)
    duplicates: int = 0

    @property
    def total(self) -> int:
        """Entries read: each is valid, invalid, or a repeat of a valid one."""
        return len(self.valid) + len(self.invalid) + self.duplicates


@dataclass(frozen=True)
class _Entry:
    """One entry before validation: its raw text, the address part, and a name if any."""

    raw: str
    address: str | None
    name: str | None


class _Builder:
    """Collects entries in order, keeping the first spelling and first non-empty name."""

    def __init__(self) -> None:
        self.valid: list[Invitee] = []
        self.invalid: list[Rejected] = []
        self.duplicates = 0
        self._index: dict[str, int] = {}
        self._read = 0

    def add(self, entry: _Entry) -> None:
        self._read += 1
        if self._read > MAX_ENTRIES:
            raise TooManyEntries()
        if not entry.address:
            self.invalid.append(Rejected(_clip(entry.raw), NO_EMAIL))
            return
        try:
            email = normalize_email(entry.address)
        except InvalidEmailError as exc:
            self.invalid.append(Rejected(_clip(entry.raw), exc.user_message))
            return
        key = identity_key(email)
        at = self._index.get(key)
        if at is None:
            self._index[key] = len(self.valid)
            self.valid.append(Invitee(email=email, name=entry.name, key=key))
            return
        self.duplicates += 1
        if self.valid[at].name is None and entry.name:
            self.valid[at] = replace(self.valid[at], name=entry.name)

    def build(self) -> InviteList:
        return InviteList(valid=self.valid, invalid=self.invalid, duplicates=self.duplicates)


def parse_text(text: str) -> InviteList:
    """Read pasted addresses: one entry per line, comma or semicolon.

    Accepted forms: `Ada <ada@x.org>`, `"Lovelace, Ada" <ada@x.org>` (quotes and angle
    brackets protect commas), `ada@x.org`, `ada@x.org Ada Lovelace` and `Ada Lovelace
    ada@x.org`. Several bare addresses on one line separated by spaces are separate entries.
    """
    builder = _Builder()
    for line in text.splitlines():
        for chunk in _split_line(line):
            for entry in _parse_chunk(chunk):
                builder.add(entry)
    return builder.build()


def parse_csv(data: bytes | str) -> InviteList:
    """Read an uploaded spreadsheet export (any common delimiter, with or without header).

    With a header naming an email column, that column is used (plus name, or first + last
    name); without one, each row's first cell with an `@` is the address and the first other
    non-empty cell the name.
    """
    text = _decode(data)
    rows = [row for row in csv.reader(io.StringIO(text), _sniff(text)) if _nonblank(row)]
    builder = _Builder()
    if not rows:
        return builder.build()
    columns = _header_columns(rows[0])
    if columns is not None:
        entries = _entries_with_header(rows[1:], *columns)
    else:
        entries = _entries_without_header(rows)
    for entry in entries:
        builder.add(entry)
    return builder.build()


def _clip(raw: str) -> str:
    return raw if len(raw) <= RAW_LIMIT else raw[: RAW_LIMIT - 1] + "…"


def _clean_name(raw: str | None) -> str | None:
    name = " ".join((raw or "").split())
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = " ".join(name[1:-1].replace('\\"', '"').split())
    return name or None


def _split_line(line: str) -> Iterator[str]:
    """Split on commas and semicolons that are outside quotes and angle brackets."""
    start, quoted, angled, escaped = 0, False, False, False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;" and not quoted and not angled:
            yield line[start:i]
            start = i + 1
    yield line[start:]


def _parse_chunk(chunk: str) -> Iterator[_Entry]:
    """Entries in one separated piece of a line; blank pieces yield nothing."""
    raw = chunk.strip()
    if not raw:
        return
    if "@" not in raw:
        yield _Entry(raw, None, None)
        return
    angle = _ANGLE.match(raw)
    if angle:
        yield _Entry(raw, angle["addr"].strip(), _clean_name(angle["name"]))
        return
    yield from _parse_bare(raw.split())


def _parse_bare(tokens: Sequence[str]) -> Iterator[_Entry]:
    """`addr name…` groups; words before the first address belong to it (`Ada ada@x.org`)."""
    groups: list[list[str]] = []
    leading: list[str] = []
    for token in tokens:
        if "@" in token:
            groups.append([token])
        elif groups:
            groups[-1].append(token)
        else:
            leading.append(token)
    if leading:
        groups[0][0:0] = leading
    for group in groups:
        at = next(i for i, token in enumerate(group) if "@" in token)
        name = _clean_name(" ".join(group[:at] + group[at + 1 :]))
        yield _Entry(" ".join(group), group[at], name)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _sniff(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_SAMPLE], delimiters=_SNIFF_DELIMITERS)
    except csv.Error:
        return csv.excel


def _nonblank(row: Sequence[str]) -> bool:
    return any(cell.strip() for cell in row)


def _header_key(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", cell.strip().lower())


def _header_columns(
    row: Sequence[str],
) -> tuple[int, int | None, int | None, int | None] | None:
    """(email, name, first, last) column indexes if `row` is a header naming an email column."""
    keys = [_header_key(cell) for cell in row]

    def find(names: frozenset[str]) -> int | None:
        return next((i for i, k in enumerate(keys) if k in names), None)

    email = find(_EMAIL_HEADERS)
    if email is None:
        return None
    return email, find(_NAME_HEADERS), find(_FIRST_HEADERS), find(_LAST_HEADERS)


def _cell(row: Sequence[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _row_raw(row: Sequence[str]) -> str:
    return ", ".join(cell.strip() for cell in row)


def _address_cell(cell: str) -> tuple[str, str | None]:
    """The address in a cell, and a name if the cell reads `Name <addr>`."""
    angle = _ANGLE.match(cell)
    if angle:
        return angle["addr"].strip(), _clean_name(angle["name"])
    return cell, None


def _entries_with_header(
    rows: Iterable[Sequence[str]],
    email: int,
    name: int | None,
    first: int | None,
    last: int | None,
) -> Iterator[_Entry]:
    for row in rows:
        raw = _row_raw(row)
        cell = _cell(row, email)
        if not cell:
            yield _Entry(raw, None, None)
            continue
        address, cell_name = _address_cell(cell)
        full = _clean_name(_cell(row, name)) or _clean_name(
            f"{_cell(row, first)} {_cell(row, last)}"
        )
        yield _Entry(raw, address, full or cell_name)


def _entries_without_header(rows: Iterable[Sequence[str]]) -> Iterator[_Entry]:
    for row in rows:
        raw = _row_raw(row)
        cells = [cell.strip() for cell in row]
        at = next((i for i, cell in enumerate(cells) if "@" in cell), None)
        if at is None:
            yield _Entry(raw, None, None)
            continue
        address, cell_name = _address_cell(cells[at])
        other = next((c for i, c in enumerate(cells) if i != at and c and "@" not in c), None)
        yield _Entry(raw, address, _clean_name(other) or cell_name)
