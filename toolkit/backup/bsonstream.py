"""Split a byte stream into raw BSON documents, and check their structure.

A ``.bson`` file written by mongodump (and the body of every archive segment)
is nothing but BSON documents laid end to end: each starts with its own
length as a little-endian int32 (the four length bytes included) and ends
with a NUL byte. Splitting needs no decoding, so the reader here is a tight
loop over a buffer; it yields each document as ``bytes`` with its offset in
the stream.

Two levels of checking:

- framing, always: the length is at least 5, at most ``MAX_DOCUMENT_SIZE``,
  the document fits in the data that is there and ends with a NUL;
- structure, when asked (``validate=True``): ``find_damage`` walks every
  element without building Python objects: known type codes, NUL-terminated
  field names and strings, nested lengths that add up, booleans that are 0
  or 1, and array keys that run "0", "1", "2", ...

Structure is not UTF-8: the server stores strings as it receives them, so a
backup must not refuse what the server holds. (``bsondump --objcheck`` accepts
out-of-order array keys; we refuse them, see ``find_damage``.)

Offsets are positions in the data as read, so in the decompressed stream when
the file is compressed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, Final

from fastcrc import crc64

from toolkit.errors import BackupError

# The server's own limit for a stored document is 16 MiB; internal documents
# (oplog entries) may exceed it by 16 KiB (BSONObjMaxInternalSize).
MAX_DOCUMENT_SIZE: Final = 16 * 1024 * 1024 + 16 * 1024
MIN_DOCUMENT_SIZE: Final = 5
READ_SIZE: Final = 1024 * 1024

# The archive format's end-of-block marker: a length of -1.
TERMINATOR_VALUE: Final = 0xFFFFFFFF

_UNSIGNED = struct.Struct("<I")
_SIGNED = struct.Struct("<i")


class _Terminator:
    """The marker ``DocumentReader.read_frame`` returns for 0xFFFFFFFF."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TERMINATOR"


TERMINATOR: Final = _Terminator()


def damaged(name: str, offset: int, reason: str) -> BackupError:
    """Return the BackupError for damaged BSON in ``name`` at ``offset``."""
    return BackupError(f"{name}: damaged BSON at offset {offset}: {reason}")


def check_frame(raw: bytes | bytearray | memoryview) -> str | None:
    """Return why ``raw`` is not one framed BSON document, or None if it is.

    Only the framing: the int32 length equals ``len(raw)``, is at least 5 and
    the last byte is NUL. Cheap enough to run on every document written.
    """
    size = len(raw)
    if size < MIN_DOCUMENT_SIZE:
        return f"{size} bytes is shorter than the smallest document (5 bytes)"
    declared = _SIGNED.unpack_from(raw, 0)[0]
    if declared != size:
        return f"the length prefix says {declared} bytes but the document has {size}"
    if raw[size - 1] != 0:
        return "the document does not end with a NUL byte"
    return None


# Element types whose value has a fixed size (bytes after the field name).
_FIXED_SIZE: Final = {
    0x01: 8,  # double
    0x06: 0,  # undefined (deprecated)
    0x07: 12,  # ObjectId
    0x09: 8,  # UTC datetime
    0x0A: 0,  # null
    0x10: 4,  # int32
    0x11: 8,  # timestamp
    0x12: 8,  # int64
    0x13: 16,  # decimal128
    0x7F: 0,  # max key
    0xFF: 0,  # min key
}
_STRING_TYPES: Final = frozenset({0x02, 0x0D, 0x0E})  # string, JavaScript code, symbol
_VARIABLE_TYPES: Final = frozenset({0x02, 0x03, 0x04, 0x05, 0x08, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F})
_UNKNOWN, _VARIABLE = -2, -1
# The walker's lookup table: the value width of each type code, or _VARIABLE / _UNKNOWN.
_WIDTHS: Final = [
    _FIXED_SIZE.get(code, _VARIABLE if code in _VARIABLE_TYPES else _UNKNOWN) for code in range(256)
]
# Array keys with their NUL, ready for startswith: b"0\x00", b"1\x00", ...
_ARRAY_KEYS: Final = [b"%d\x00" % index for index in range(1024)]


def count_documents(block: bytes | bytearray | memoryview, name: str, offset: int = 0) -> int:
    """Return how many framed BSON documents lie end to end in ``block`` (a raw batch).

    Walks the length prefixes: each length must be within bounds and the
    last one must end exactly at the end of ``block``, whose last byte must
    be a document's trailing NUL. (A raw batch comes from the server whole;
    this proves it splits into documents without copying any.) ``name`` and
    ``offset`` (where ``block`` starts) locate damage: raise BackupError
    ``"{name}: damaged BSON at offset {offset}: {reason}"``.
    """
    unpack = _UNSIGNED.unpack_from
    limit = len(block) - 4
    position = 0
    count = 0
    # The hot loop: one unpack and one comparison per document (this runs for every
    # document a backup writes); the bounds of the sizes are checked in bulk below.
    smallest = MAX_DOCUMENT_SIZE
    largest = 0
    while position <= limit:
        size = unpack(block, position)[0]
        if size < smallest:
            smallest = size
            if size < MIN_DOCUMENT_SIZE:
                raise damaged(name, offset + position, f"a document length of {size} is below 5")
        if size > largest:
            largest = size
        position += size
        count += 1
    if largest > MAX_DOCUMENT_SIZE:
        raise damaged(name, offset, f"a document length of {largest} is above the maximum")
    end = len(block)
    if position != end:
        if position < end:
            raise damaged(name, offset + position, "the data ends inside a length prefix")
        raise damaged(name, offset + end, "the last document runs past the data")
    if count and block[end - 1]:
        raise damaged(name, offset + end - 1, "the last document does not end with a NUL byte")
    return count


def documents_in_array(array_size: int, documents_size: int) -> int | None:
    """Return how many documents a BSON array of ``array_size`` bytes held, or None.

    ``documents_size`` is the size of the same documents laid end to end
    without the array's framing (what the driver turns a reply's
    ``firstBatch``/``nextBatch`` into). The difference is the array's own
    bytes: its length and final NUL (5), and per element a type byte, the
    key and the key's NUL. An array's keys are "0", "1", "2", ... (the BSON
    spec; a server's replies always have them), so that difference grows
    strictly with the number of elements, and solving for it gives the count
    with no pass over the documents. None when no such array fits the sizes:
    count the documents instead.
    """
    overhead = array_size - 5 - documents_size
    if overhead < 0:
        return None
    count = _elements_for(overhead)
    if count is None or count * MIN_DOCUMENT_SIZE > documents_size:
        return None
    return count


def _elements_for(overhead: int) -> int | None:
    """The number of elements keyed "0", "1", ... whose framing takes ``overhead`` bytes."""
    before = 0
    digits = 1
    group = 10  # how many keys have ``digits`` digits: 0-9, then 10-99, ...
    while True:
        per_element = 2 + digits  # type byte + key + NUL
        if overhead <= group * per_element:
            if overhead % per_element:
                return None
            return before + overhead // per_element
        overhead -= group * per_element
        before += group
        digits += 1
        group = 9 * 10 ** (digits - 1)


def find_damage(raw: bytes | bytearray | memoryview) -> tuple[int, str] | None:
    """Walk one BSON document; return (position in ``raw``, reason) or None when sound.

    ``raw`` is one whole document, length prefix included. The walk is
    iterative, so deep nesting cannot exhaust the Python stack. It checks the
    framing of every nested document and array, the type code of every
    element, that field names and strings are NUL-terminated and lie inside
    their parent, booleans, binary and code-with-scope lengths, and that array
    keys are "0", "1", ... in order. Strings are not checked for UTF-8.
    """
    data = bytes(raw)
    size = len(data)
    problem = check_frame(data)
    if problem is not None:
        return 0, problem
    unpack = _SIGNED.unpack_from
    find = data.find
    startswith = data.startswith
    widths = _WIDTHS
    array_keys = _ARRAY_KEYS
    string_types = _STRING_TYPES
    # Each frame is (position of the document's final NUL, is an array, next array index).
    stack: list[tuple[int, bool, int]] = []
    end = size - 1
    is_array = False
    index = 0
    position = 4
    while True:
        if position == end:
            if not stack:
                return None
            end, is_array, index = stack.pop()
            position += 1
            continue
        element_type = data[position]
        key_start = position + 1
        if is_array:
            key = array_keys[index] if index < 1024 else b"%d\x00" % index
            if not startswith(key, key_start, end):
                stop = find(b"\x00", key_start, end)
                found = data[key_start : stop if stop >= 0 else end].decode("utf-8", "replace")
                return key_start, f"array element {index} has the key {found!r}"
            index += 1
            position = key_start + len(key)
        else:
            key_end = find(b"\x00", key_start, end)
            if key_end < 0:
                return key_start, "a field name is not NUL-terminated inside its document"
            position = key_end + 1
        width = widths[element_type]
        if width >= 0:
            position += width
            if position > end:
                return key_start - 1, f"a value of type 0x{element_type:02x} runs past its document"
            continue
        if width == _UNKNOWN:
            return key_start - 1, f"unknown element type 0x{element_type:02x}"
        if element_type in string_types:
            if position + 4 > end:
                return position, "a string length runs past its document"
            length = unpack(data, position)[0]
            if length < 1 or position + 4 + length > end:
                return position, f"a string length of {length} does not fit its document"
            if data[position + 3 + length] != 0:
                return position, "a string is not NUL-terminated"
            position += 4 + length
        elif element_type == 0x03 or element_type == 0x04:
            if position + 4 > end:
                return position, "a nested document length runs past its parent"
            length = unpack(data, position)[0]
            if length < MIN_DOCUMENT_SIZE or position + length > end:
                return position, f"a nested document length of {length} does not fit its parent"
            if data[position + length - 1] != 0:
                return position, "a nested document does not end with a NUL byte"
            stack.append((end, is_array, index))
            end = position + length - 1
            is_array = element_type == 0x04
            index = 0
            position += 4
        elif element_type == 0x05:
            if position + 5 > end:
                return position, "a binary length runs past its document"
            length = unpack(data, position)[0]
            if length < 0 or position + 5 + length > end:
                return position, f"a binary length of {length} does not fit its document"
            # The old binary subtype (2) repeats the length inside the value.
            if data[position + 4] == 0x02 and (
                length < 4 or unpack(data, position + 5)[0] != length - 4
            ):
                return position, "an old-style binary (subtype 2) has inconsistent lengths"
            position += 5 + length
        elif element_type == 0x08:
            if position + 1 > end:
                return position, "a boolean runs past its document"
            if data[position] > 1:
                return position, f"a boolean holds {data[position]}, not 0 or 1"
            position += 1
        elif element_type == 0x0B:
            for part in ("pattern", "options"):
                stop = find(b"\x00", position, end)
                if stop < 0:
                    return position, f"a regular expression {part} is not NUL-terminated"
                position = stop + 1
        elif element_type == 0x0C:
            if position + 4 > end:
                return position, "a DBPointer runs past its document"
            length = unpack(data, position)[0]
            if length < 1 or position + 4 + length + 12 > end:
                return position, f"a DBPointer length of {length} does not fit its document"
            if data[position + 3 + length] != 0:
                return position, "a DBPointer namespace is not NUL-terminated"
            position += 4 + length + 12
        elif element_type == 0x0F:
            if position + 4 > end:
                return position, "a code-with-scope value runs past its document"
            total = unpack(data, position)[0]
            if total < 14 or position + total > end:
                return position, f"a code-with-scope length of {total} does not fit its document"
            length = unpack(data, position + 4)[0]
            scope_start = position + 8 + length
            if length < 1 or scope_start + MIN_DOCUMENT_SIZE > position + total:
                return position, "a code-with-scope string does not fit its value"
            if data[scope_start - 1] != 0:
                return position, "a code-with-scope string is not NUL-terminated"
            scope_length = unpack(data, scope_start)[0]
            if scope_length != position + total - scope_start:
                return scope_start, "a code-with-scope scope does not fill its value exactly"
            if data[scope_start + scope_length - 1] != 0:
                return scope_start, "a code-with-scope scope does not end with a NUL byte"
            stack.append((end, is_array, index))
            end = scope_start + scope_length - 1
            is_array = False
            index = 0
            position = scope_start + 4
        if position > end:
            return key_start - 1, f"a value of type 0x{element_type:02x} runs past its document"


def validate_document(raw: bytes | bytearray | memoryview, name: str, offset: int) -> None:
    """Raise BackupError naming ``name`` and the absolute offset if ``raw`` is not sound BSON.

    ``offset`` is where ``raw`` starts in ``name``; the error gives the offset
    of the damaged byte itself.
    """
    damage = find_damage(raw)
    if damage is not None:
        position, reason = damage
        if position:
            reason = f"{reason} (in the document at offset {offset})"
        raise damaged(name, offset + position, reason)


class DocumentReader:
    """Read framed BSON documents from a binary stream through one buffer.

    ``stream`` needs only ``read(n)``. ``name`` is used in errors; ``offset``
    is the stream position the first byte read corresponds to. Documents are
    read ``read_size`` bytes at a time, so memory holds at most one read plus
    one document, whatever the size of the stream.

    ``documents()`` is the fast path: a loop that yields (offset, bytes) for
    each document. ``read_frame()`` reads one length-prefixed item and also
    recognises the archive format's terminator (0xFFFFFFFF).
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        offset: int = 0,
        read_size: int = READ_SIZE,
        validate: bool = False,
    ) -> None:
        self._stream = stream
        self.name = name
        self._buffer = b""
        self._position = 0
        self._base = offset
        self._read_size = read_size
        self._validate = validate
        self._exhausted = False
        self.crc: int | None = None

    @property
    def offset(self) -> int:
        """The stream offset of the next byte not yet returned."""
        return self._base + self._position

    def _fill(self, needed: int) -> bool:
        """Make at least ``needed`` unread bytes available; False if the stream ends first."""
        available = len(self._buffer) - self._position
        while available < needed:
            if self._exhausted:
                return False
            chunk = self._stream.read(max(self._read_size, needed - available))
            if not chunk:
                self._exhausted = True
                return False
            self._base += self._position
            self._buffer = self._buffer[self._position :] + chunk
            self._position = 0
            available = len(self._buffer)
        return True

    def at_end(self) -> bool:
        """Return True when every byte of the stream has been consumed."""
        return not self._fill(1)

    def _truncated(self, what: str) -> BackupError:
        remaining = len(self._buffer) - self._position
        return damaged(
            self.name,
            self.offset,
            f"the data ends {remaining} byte(s) into {what} (truncated file?)",
        )

    def read_frame(self, *, allow_terminator: bool = True) -> bytes | _Terminator | None:
        """Read one document, the terminator, or None at a clean end of the stream.

        A clean end is one at a document boundary. Raise BackupError for a
        bad length, a truncated document or a missing trailing NUL (and, with
        ``validate``, for a structurally damaged document).
        """
        if not self._fill(4):
            if len(self._buffer) == self._position:
                return None
            raise self._truncated("a length prefix")
        buffer = self._buffer
        position = self._position
        size = _UNSIGNED.unpack_from(buffer, position)[0]
        if size == TERMINATOR_VALUE and allow_terminator:
            self._position = position + 4
            return TERMINATOR
        self._check_size(size)
        if not self._fill(size):
            raise self._truncated(f"a document of {size} bytes")
        buffer = self._buffer
        position = self._position
        document = buffer[position : position + size]
        if document[-1] != 0:
            raise damaged(self.name, self.offset, "the document does not end with a NUL byte")
        if self._validate:
            validate_document(document, self.name, self.offset)
        self._position = position + size
        return document

    def _check_size(self, size: int) -> None:
        if size == TERMINATOR_VALUE:
            raise damaged(
                self.name, self.offset, "found an archive terminator where a document should be"
            )
        if size < MIN_DOCUMENT_SIZE:
            raise damaged(self.name, self.offset, f"a document length of {size} is below 5")
        if size > MAX_DOCUMENT_SIZE:
            raise damaged(
                self.name,
                self.offset,
                f"a document length of {size} is above the {MAX_DOCUMENT_SIZE}-byte maximum",
            )

    def documents(
        self, *, until_terminator: bool = False, crc: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Yield (offset, document) for each document until the end of the stream.

        With ``until_terminator``, stop after consuming an archive terminator
        instead, and treat the end of the stream as truncation. With ``crc``
        (a running CRC-64/XZ, 0 to start), the bytes of the documents are
        checksummed a buffer at a time, far cheaper than one call per
        document; the result is in ``self.crc`` once the iteration ends.
        Raise BackupError at the first damaged document.
        """
        unpack = _UNSIGNED.unpack_from
        validate = self._validate
        name = self.name
        position = self._position
        self.crc = crc
        try:
            while True:
                buffer = self._buffer
                limit = len(buffer)
                base = self._base
                block_start = position
                # The hot loop writes no attribute: ``position`` goes back to
                # ``self`` in the finally clause, however the loop stops.
                while position + 4 <= limit:
                    size = unpack(buffer, position)[0]
                    if size < MIN_DOCUMENT_SIZE or size > MAX_DOCUMENT_SIZE:
                        if size == TERMINATOR_VALUE and until_terminator:
                            self._checksum(buffer, block_start, position)
                            position += 4
                            return
                        self._position = position
                        self._check_size(size)
                    start = position
                    stop = position + size
                    if stop > limit:
                        break
                    if buffer[stop - 1]:
                        raise damaged(
                            name, base + start, "the document does not end with a NUL byte"
                        )
                    document = buffer[start:stop]
                    if validate:
                        validate_document(document, name, base + start)
                    position = stop
                    yield base + start, document
                self._checksum(buffer, block_start, position)
                self._position = position
                more = self._refill(until_terminator)
                position = self._position
                if not more:
                    return
        finally:
            self._position = position

    def skip_documents(
        self, *, until_terminator: bool = False, crc: int | None = None
    ) -> tuple[int, int]:
        """Consume documents as ``documents()`` does, without handing them out.

        Return (documents, bytes). The same checks (framing, and structure with
        ``validate``), the same CRC in ``self.crc``, the same errors; no
        document is copied out of the buffer, so counting a stream costs
        little more than reading it.
        """
        if self._validate:
            count = size_total = 0
            for _offset, document in self.documents(until_terminator=until_terminator, crc=crc):
                count += 1
                size_total += len(document)
            return count, size_total
        unpack = _UNSIGNED.unpack_from
        name = self.name
        position = self._position
        self.crc = crc
        count = 0
        total = 0
        try:
            while True:
                buffer = self._buffer
                limit = len(buffer)
                block_start = position
                while position + 4 <= limit:
                    size = unpack(buffer, position)[0]
                    if size < MIN_DOCUMENT_SIZE or size > MAX_DOCUMENT_SIZE:
                        if size == TERMINATOR_VALUE and until_terminator:
                            self._checksum(buffer, block_start, position)
                            total += position - block_start
                            position += 4
                            return count, total
                        self._position = position
                        self._check_size(size)
                    stop = position + size
                    if stop > limit:
                        break
                    if buffer[stop - 1]:
                        raise damaged(
                            name, self._base + position, "the document does not end with a NUL byte"
                        )
                    position = stop
                    count += 1
                self._checksum(buffer, block_start, position)
                total += position - block_start
                self._position = position
                more = self._refill(until_terminator)
                position = self._position
                if not more:
                    return count, total
        finally:
            self._position = position

    def _refill(self, until_terminator: bool) -> bool:
        """Read more after the whole documents in the buffer; False at a clean end of the data.

        Raise BackupError when the data ends inside a document or its length
        prefix, or (``until_terminator``) before a block's terminator.
        """
        position = self._position
        needed = 4
        if position + 4 <= len(self._buffer):
            needed = _UNSIGNED.unpack_from(self._buffer, position)[0]
        if self._fill(needed):
            return True
        if len(self._buffer) == self._position:
            if until_terminator:
                raise damaged(
                    self.name,
                    self.offset,
                    "the data ends inside a block, before its terminator (truncated file?)",
                )
            return False
        what = "a length prefix" if needed == 4 else f"a document of {needed} bytes"
        raise self._truncated(what)

    def _checksum(self, buffer: bytes, start: int, stop: int) -> None:
        if self.crc is not None and stop > start:
            with memoryview(buffer) as view:
                self.crc = crc64.xz(view[start:stop], self.crc)


def iter_documents(
    stream: BinaryIO,
    name: str,
    *,
    validate: bool = False,
    read_size: int = READ_SIZE,
) -> Iterator[tuple[int, bytes]]:
    """Return an iterator of (offset, raw document) over the BSON documents in ``stream``.

    ``name`` is the file name used in errors. With ``validate`` each document
    is walked by ``find_damage`` as well. Raise BackupError
    ``"{name}: damaged BSON at offset {offset}: {reason}"`` at the first
    damaged document; the documents before it have been yielded.
    """
    return DocumentReader(stream, name, validate=validate, read_size=read_size).documents()
