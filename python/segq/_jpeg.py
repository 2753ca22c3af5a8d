"""A JPEG checked whole as segq-run decodes it (segq__image_read_jpeg in
pipeline/image/segq_image_jpeg.c, over libjpeg-turbo 2.1), with its
words: its markers walked as libjpeg reads them, up to EOI, so that a file
cut short (which libjpeg's memory source would pad with a fake end, and
segq-run refuses) is refused; its frame taken as libjpeg takes it (size,
precision, components, sampling, colour). Neither the tables nor the
entropy-coded data are decoded: damage in the data is only a warning to
libjpeg (grey blocks), which segq-run ignores; a damaged table is left
to segq-run to say."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from . import errors
from ._limits import check_size

_MAX_DIMENSION = 65500  # JPEG_MAX_DIMENSION
_MAX_COMPONENTS = 10
_MAX_SCANS = 256  # segq_image_jpeg.c's MAX_SCANS: each scan is a pass over the image
_SOF = {0xC0, 0xC1, 0xC2, 0xC9, 0xCA}  # the processes libjpeg decodes
_PROGRESSIVE = {0xC2, 0xCA}
# other SOFn and JPG: processes libjpeg refuses
_SOF_UNSUPPORTED = {0xC3, 0xC5, 0xC6, 0xC7, 0xC8, 0xCB, 0xCD, 0xCE, 0xCF}
_NO_PARAMETERS = {*range(0xD0, 0xD8), 0x01}  # RSTn, TEM
# DHT, DAC, DNL, DQT, DRI, APPn, COM: markers whose parameters are skipped here
_SKIPPED = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, *range(0xE0, 0xF0), 0xFE}
_SOS, _EOI, _SOI = 0xDA, 0xD9, 0xD8


@dataclass
class _Frame:
    precision: int
    height: int
    width: int
    sampling: list[tuple[int, int]]  # each component's horizontal and vertical factor
    progressive: bool


class _Jpeg:
    """A JPEG's markers as libjpeg reads them, from after SOI."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.at = data, name, 2
        self.frame: _Frame | None = None

    def fail(self, what: str, why: str) -> errors.InvalidArgument:
        return errors.InvalidArgument(f"{self.name}: {what}: {why}")

    def corrupt(self, why: str) -> errors.InvalidArgument:
        return self.fail("corrupt JPEG", why)

    def truncated(self) -> errors.InvalidArgument:
        return self.fail("truncated JPEG", "file ends early")

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise self.truncated()
        self.at += n
        return self.data[self.at - n : self.at]

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def next_marker(self) -> int:
        """The next marker's code, past any other bytes (the entropy-coded
        data, garbage), fill bytes and stuffed zeros (next_marker)."""
        while True:
            at = self.data.find(b"\xff", self.at)
            if at < 0:
                raise self.truncated()
            self.at = at + 1
            code = self.number(1)
            while code == 0xFF:
                code = self.number(1)
            if code:
                return code

    def read_sof(self, code: int) -> None:
        length, precision, height, width, components = struct.unpack(">HBHHB", self.take(8))
        if self.frame is not None:
            raise self.corrupt("Invalid JPEG file structure: two SOF markers")
        if height == 0 or width == 0 or components == 0:
            raise self.fail("empty JPEG", "Empty JPEG image (DNL not supported)")
        if length - 8 != components * 3:
            raise self.corrupt("Bogus marker length")
        sampling = []
        for _ in range(components):
            _, factors, _ = self.take(3)
            sampling.append((factors >> 4, factors & 15))
        self.frame = _Frame(precision, height, width, sampling, code in _PROGRESSIVE)

    def read_sos(self) -> tuple[_Frame, int]:
        """A scan's header: the frame it is of, the components it codes."""
        if self.frame is None:
            raise self.corrupt("Invalid JPEG file structure: SOS before SOF")
        length, components = struct.unpack(">HB", self.take(3))
        if length != components * 2 + 6 or not 1 <= components <= 4:
            raise self.corrupt("Bogus marker length")
        self.take(length - 3)
        return self.frame, components

    def scans(self) -> Iterator[tuple[_Frame, int]]:
        """Each scan's frame and component count, as libjpeg reaches it, up
        to EOI (read_markers)."""
        while (code := self.next_marker()) != _EOI:
            if code == _SOS:
                yield self.read_sos()
            elif code == _SOI:
                raise self.corrupt("Invalid JPEG file structure: two SOI markers")
            elif code in _SOF:
                self.read_sof(code)
            elif code in _SOF_UNSUPPORTED:
                raise self.corrupt(f"Unsupported JPEG process: SOF type 0x{code:02x}")
            elif code in _SKIPPED:
                self.take(max(self.number(2) - 2, 0))
            elif code not in _NO_PARAMETERS:
                raise self.corrupt(f"Unsupported marker type 0x{code:02x}")


def _check_frame(jpeg: _Jpeg, frame: _Frame) -> None:
    """What libjpeg checks of a frame at its first scan (initial_setup)."""
    if max(frame.height, frame.width) > _MAX_DIMENSION:
        raise jpeg.fail(
            "JPEG too large", f"Maximum supported image dimension is {_MAX_DIMENSION} pixels"
        )
    if frame.precision != 8:
        raise jpeg.fail("JPEG", f"Unsupported JPEG data precision {frame.precision}")
    if len(frame.sampling) > _MAX_COMPONENTS:
        raise jpeg.corrupt(
            f"Too many color components: {len(frame.sampling)}, max {_MAX_COMPONENTS}"
        )
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in frame.sampling):
        raise jpeg.corrupt("Bogus sampling factors")


def _decode_bytes(frame: _Frame, channels: int, multi_scan: bool) -> int:
    """Memory decoding takes: the output and, for a file of several scans,
    every block's coefficients (segq_image_jpeg.c's decode_bytes)."""
    nbytes = frame.width * frame.height * channels
    if multi_scan:
        max_h = max(h for h, _ in frame.sampling)
        max_v = max(v for _, v in frame.sampling)
        for h, v in frame.sampling:
            across = -(-frame.width * h // (max_h * 8))
            down = -(-frame.height * v // (max_v * 8))
            nbytes += across * down * 64 * 2
    return nbytes


def read_jpeg(data: bytes, name: str, max_pixels: int) -> tuple[int, int, int]:
    """(width, height, channels as decoded) of a JPEG that decodes whole
    within the limits; else InvalidArgument, as segq-run says it."""
    jpeg = _Jpeg(data, name)
    scans = jpeg.scans()
    first_scan = next(scans, None)
    if first_scan is None:  # EOI first: tables only, or a frame without a scan
        why = (
            "JPEG datastream contains no image"
            if jpeg.frame is None
            else "Invalid JPEG file structure: missing SOS marker"
        )
        raise jpeg.corrupt(why)
    frame, first = first_scan
    _check_frame(jpeg, frame)
    if len(frame.sampling) == 4:
        raise errors.InvalidArgument(f"{name}: CMYK JPEG is not supported: convert it to RGB")
    channels = 1 if len(frame.sampling) == 1 else 3
    multi_scan = frame.progressive or first < len(frame.sampling)
    check_size(
        name, frame.width, frame.height, _decode_bytes(frame, channels, multi_scan), max_pixels
    )
    if len(frame.sampling) not in (1, 3):
        raise jpeg.fail("JPEG", "Unsupported color conversion request")
    for number, _ in enumerate(scans, start=2):  # the rest, up to EOI
        if not multi_scan:
            raise jpeg.corrupt("Didn't expect more than one scan")
        if number > _MAX_SCANS:
            raise jpeg.corrupt(f"more than {_MAX_SCANS} progressive scans")
    return frame.width, frame.height, channels
