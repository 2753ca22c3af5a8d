"""A PNG checked whole as segq-run decodes it (segq__image_read_png in
pipeline/image/segq_image_png.c, over libpng 1.6), with its words: every
chunk read in file order up to IEND as libpng reads it (a file cut short,
a critical chunk's CRC, IHDR's fields, chunks out of place), and the
image data inflated row by row with zlib, as libpng feeds it, to see
that it holds every row with a valid filter. libpng only warns of an
ancillary chunk's bad CRC and drops the chunk; of those, only tRNS (an
alpha channel) changes what segq-run decodes. A mask's rows are also
unfiltered, for its largest level (segq_image_check_mask_levels)."""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Iterator

from . import errors
from ._limits import check_size

_UINT31_MAX = 0x7FFFFFFF
_PIECE = 8192  # PNG_IDAT_READ_SIZE: how much of an IDAT libpng gives zlib at once
_CHECK_OUT = 1024  # PNG_INFLATE_BUF_SIZE: what it inflates at a time after the last row
# colour type -> (samples per pixel in the file, the bit depths it may have)
_COLOR_TYPES = {
    0: (1, (1, 2, 4, 8, 16)),
    2: (3, (8, 16)),
    3: (1, (1, 2, 4, 8)),
    4: (2, (8, 16)),
    6: (4, (8, 16)),
}
_TRNS_LENGTH = {0: 2, 2: 6}  # grey, RGB; a palette's is its own
# Adam7's passes: first column, first row, column step, row step
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def _label(kind: bytes) -> str:
    """A chunk type as libpng names it in messages (png_format_buffer)."""
    return "".join(chr(c) if bytes([c]).isalpha() else f"[{c:02X}]" for c in kind)


def _count(size: int, first: int, step: int) -> int:
    """Columns or rows of an Adam7 pass: from `first`, every `step`."""
    return max(0, (size - first + step - 1) // step)


class _Png:
    """A PNG's bytes read as libpng reads them: a chunk's header, its data,
    its CRC once the chunk is finished (png_crc_finish)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self.at = 8  # the read position, past the signature
        self.kind, self.start, self.length = b"", 0, 0  # the chunk being read
        self.width = self.height = self.depth = self.color = self.interlace = 0
        self.have_plte = False
        self.palette = 0  # entries of a palette libpng kept
        self.palette_rgb = b""  # their colours
        self.alpha = False  # a tRNS libpng kept: png_set_expand makes it an alpha channel
        self.idat_left = 0  # bytes of the current IDAT not yet given to zlib
        self.piece = b""  # what zlib has been given and not used yet

    def corrupt(self, why: str) -> errors.InvalidArgument:
        return errors.InvalidArgument(f"{self.name}: corrupt PNG: {why}")

    def chunk_error(self, why: str) -> errors.InvalidArgument:
        return self.corrupt(f"{_label(self.kind)}: {why}")

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise errors.InvalidArgument(f"{self.name}: truncated PNG: file ends early")
        self.at += n
        return self.data[self.at - n : self.at]

    def next_chunk(self) -> int:
        """The next chunk's header (png_read_chunk_header); its length."""
        length, kind = struct.unpack(">I4s", self.take(8))
        if length > _UINT31_MAX:
            raise self.corrupt("PNG unsigned integer out of range")
        self.kind, self.start, self.length = kind, self.at, length
        if not kind.isalpha():
            raise self.chunk_error("invalid chunk type")
        return length

    def crc_finish(self, skip: int) -> bool:
        """Skips the chunk's last `skip` bytes and checks its CRC: a critical
        chunk's must match; False for an ancillary one's that does not."""
        self.take(skip)
        (crc,) = struct.unpack(">I", self.take(4))
        if zlib.crc32(self.data[self.start - 4 : self.start + self.length]) == crc:
            return True
        if self.kind[0] & 0x20:
            return False
        raise self.chunk_error("CRC error")

    # ---- png_read_info: the chunks before the image data ----

    def read_ihdr(self) -> None:
        if self.next_chunk() != 13:
            raise self.chunk_error("invalid")
        fields = struct.unpack(">IIBBBBB", self.take(13))
        self.crc_finish(0)
        self.width, self.height, self.depth, self.color, compression, filter_, interlace = fields
        self.interlace = interlace
        depths = _COLOR_TYPES.get(self.color, (0, ()))[1]
        if self.depth not in depths or compression or filter_ or interlace > 1:
            raise self.corrupt("Invalid IHDR data")

    def read_plte(self, length: int) -> None:
        if self.have_plte:
            raise self.chunk_error("duplicate")
        self.have_plte = True
        if not self.color & 2 or length > 768 or length % 3:
            self.crc_finish(length)  # a grey image's is ignored, a bad one refused if it is needed
            if self.color == 3:
                raise self.chunk_error("invalid")
            return
        entries = min(length // 3, 1 << self.depth if self.color == 3 else 256)
        self.palette_rgb = self.take(3 * entries)
        self.crc_finish(length - 3 * entries)
        if entries == 0:
            raise self.corrupt("Invalid palette")
        self.palette = entries

    def read_trns(self, length: int) -> None:
        if self.color == 3:
            valid = self.have_plte and 0 < length <= self.palette
        else:
            valid = _TRNS_LENGTH.get(self.color) == length
        if self.alpha or not valid:
            self.crc_finish(length)  # libpng warns and drops it
            return
        self.take(length)
        self.alpha = self.crc_finish(0)

    def read_info(self) -> None:
        """The chunks up to the first IDAT's header."""
        self.read_ihdr()
        while True:
            length = self.next_chunk()
            if self.kind == b"IDAT":
                if self.color == 3 and not self.have_plte:
                    raise self.chunk_error("Missing PLTE before IDAT")
                self.idat_left = length
                return
            if self.kind in (b"IHDR", b"IEND"):
                raise self.chunk_error("out of place")
            if self.kind == b"PLTE":
                self.read_plte(length)
            elif self.kind == b"tRNS":
                self.read_trns(length)
            else:
                self.crc_finish(length)
                if not self.kind[0] & 0x20:
                    raise self.chunk_error("unhandled critical chunk")

    def decoded(self) -> tuple[int, int]:
        """Channels and bit depth as segq-run decodes them: a palette as RGB,
        grey below 8 bits as 8, tRNS as an alpha channel (png_set_expand)."""
        channels = 3 if self.color == 3 else _COLOR_TYPES[self.color][0]
        depth = 8 if self.depth < 8 else self.depth
        return channels + int(self.alpha), depth

    # ---- the image data ----

    def next_piece(self) -> bytes:
        """What libpng gives zlib next: at most 8192 bytes of the current
        IDAT, or of the next one once that is used up and its CRC checked."""
        while self.idat_left == 0:
            self.crc_finish(0)
            self.idat_left = self.next_chunk()
            if self.kind != b"IDAT":
                raise self.corrupt("Not enough image data")
        piece = self.take(min(_PIECE, self.idat_left))
        self.idat_left -= len(piece)
        return piece

    def inflate(self, inflater: zlib._Decompress, size: int) -> bytes:
        """size bytes of image data, or an error (png_read_IDAT_data)."""
        out = b""
        while len(out) < size:
            self.piece = self.piece or self.next_piece()
            if inflater.eof:  # the stream ended with an earlier row
                raise self.corrupt("Not enough image data")
            try:
                out += inflater.decompress(self.piece, size - len(out))
            except zlib.error as e:
                raise self.chunk_error(str(e).split(": ", 1)[-1]) from e
            # past the stream's end, the rest of the piece is not zlib's
            self.piece = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            if inflater.eof and len(out) < size:
                raise self.corrupt("Not enough image data")
        return out

    def rows(self) -> Iterator[tuple[int, int, bool]]:
        """Each row of image data: its size, filter byte included, its
        pixels, and whether it starts a pass (each pass's rows when
        interlaced)."""
        bits = _COLOR_TYPES[self.color][0] * self.depth
        for x0, y0, dx, dy in _ADAM7 if self.interlace else ((0, 0, 1, 1),):
            columns, rows = _count(self.width, x0, dx), _count(self.height, y0, dy)
            for row in range(rows if columns else 0):
                yield 1 + (columns * bits + 7) // 8, columns, row == 0

    def finish_idat(self, inflater: zlib._Decompress) -> None:
        """After the last row (png_read_finish_IDAT): the rest of the zlib
        stream, whose damage libpng only warns of, then the IDAT's end."""
        extra = 0
        while not inflater.eof:
            self.piece = self.piece or self.next_piece()
            try:
                extra += len(inflater.decompress(self.piece, _CHECK_OUT))
            except zlib.error:
                break
            self.piece = inflater.unconsumed_tail
            if not extra:
                break
        self.crc_finish(self.idat_left)

    def read_image(self, levels: Levels | None) -> None:
        self.piece = self.next_piece()
        if self.piece[0] >> 4 > 7:  # libpng's own check of the zlib header
            raise self.chunk_error("invalid window size (libpng)")
        inflater = zlib.decompressobj(0)  # the window the stream declares, as libpng
        for size, columns, first in self.rows():
            row = self.inflate(inflater, size)
            if row[0] > 4:
                raise self.corrupt("bad adaptive filter value")
            if levels:
                levels.row(self, row, columns, first)
        self.finish_idat(inflater)

    def read_end(self) -> None:
        """The chunks after the image data, up to IEND (png_read_end)."""
        while True:
            length = self.next_chunk()
            if self.kind == b"IHDR":
                raise self.chunk_error("out of place")
            self.crc_finish(length)
            if self.kind == b"IEND":
                return


def _paeth(left: int, up: int, corner: int) -> int:
    guess = left + up - corner
    to_left, to_up, to_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else corner


def _unfilter(kind: int, row: bytearray, prior: bytes, step: int) -> None:
    """Undoes a row's filter in place (PNG 9.2); prior: the row above,
    unfiltered, zeros for a pass's first; step: bytes a pixel, at least 1."""
    if kind == 1:
        for i in range(step, len(row)):
            row[i] = (row[i] + row[i - step]) & 255
    elif kind == 2:
        row[:] = bytes((a + b) & 255 for a, b in zip(row, prior))
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - step] if i >= step else 0
            row[i] = (row[i] + ((left + prior[i]) >> 1)) & 255
    elif kind == 4:
        for i in range(len(row)):
            left, corner = (row[i - step], prior[i - step]) if i >= step else (0, 0)
            row[i] = (row[i] + _paeth(left, prior[i], corner)) & 255


def _luminance(red: int, green: int, blue: int) -> int:
    """As segq-run's, Rec. 601 in integer weights (x1000), rounded."""
    return (299 * red + 587 * green + 114 * blue + 500) // 1000


class Levels:
    """The largest level of a PNG's pixels as segq-run decodes them, grey
    or the luminance of colour (segq_image_check_mask_levels): a palette
    through its colours, grey below 8 bits scaled to 8 (png_set_expand),
    16 bits kept. Rows stop being unfiltered once it is above half the
    range: then it is no label mask."""

    def __init__(self) -> None:
        self.largest, self.half = 0, 127
        self.prior = b""

    def row(self, png: _Png, row: bytes, columns: int, first: bool) -> None:
        self.half = 32767 if png.depth == 16 else 127
        if self.largest > self.half:
            return
        samples = _COLOR_TYPES[png.color][0]
        data = bytearray(row[1:])
        if first:
            self.prior = bytes(len(data))
        _unfilter(row[0], data, self.prior, max(1, samples * png.depth // 8))
        self.prior = bytes(data)
        self.largest = max(self.largest, self._largest(png, data, columns, samples))

    @staticmethod
    def _largest(png: _Png, data: bytearray, columns: int, samples: int) -> int:
        if png.depth < 8:
            per_byte, top = 8 // png.depth, (1 << png.depth) - 1
            values = [
                (data[i // per_byte] >> (8 - png.depth * (i % per_byte + 1))) & top
                for i in range(columns)
            ]
        elif png.depth == 16:
            wide = array("H", bytes(data))
            if sys.byteorder == "little":
                wide.byteswap()
            values = list(wide)
        else:
            values = list(data)
        if png.color == 3:
            rgb = png.palette_rgb
            colours = {
                _luminance(*rgb[3 * v : 3 * v + 3]) if 3 * v < len(rgb) else 0 for v in set(values)
            }
            return max(colours)
        if samples < 3:
            grey = values[::samples]
            return max(grey) * 255 // top if png.depth < 8 else max(grey)
        return max(map(_luminance, values[::samples], values[1::samples], values[2::samples]))


def read_png(
    data: bytes, name: str, max_pixels: int, levels: Levels | None = None
) -> tuple[int, int, int]:
    """(width, height, channels as decoded) of a PNG that decodes whole
    within the limits; else InvalidArgument, as segq-run says it. With
    levels, its pixels' largest level there."""
    if len(data) < 24:
        raise errors.InvalidArgument(f"{name}: PNG ends before its header ({len(data)} bytes)")
    if data[12:16] != b"IHDR":
        raise errors.InvalidArgument(f"{name}: corrupt PNG: first chunk is not IHDR")
    width, height = struct.unpack(">II", data[16:24])
    check_size(name, width, height, 0, max_pixels)
    png = _Png(data, name)
    png.read_info()
    channels, depth = png.decoded()
    check_size(name, width, height, width * height * channels * depth // 8, max_pixels)
    png.read_image(levels)
    png.read_end()
    return width, height, channels
