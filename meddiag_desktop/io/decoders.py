"""Which installed package decodes a DICOM transfer syntax, from pydicom's decoder registry.

pydicom registers its pixel decoders as plugins, each with an availability check and the
packages it lacks (``pydicom.pixels.get_decoder(uid)``: ``available_plugins``,
``missing_dependencies``). Scan notes, load errors, ``meddiag info`` and the About box read
that registry here, so a message names the package to install instead of relaying pydicom's
exception text. pydicom is imported only when a question is asked (it costs ~0.3 s).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["DecoderStatus", "decoder_status", "compressed_decoders", "is_compressed"]

#: transfer syntaxes read without a codec (the bytes are the values; deflate is zlib)
_NATIVE = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}


@dataclass(frozen=True)
class DecoderStatus:
    """What pydicom's registry says about decoding one transfer syntax here."""

    transfer_syntax: str
    name: str  #: the syntax's name, e.g. "JPEG 2000 Image Compression (Lossless Only)"
    supported: bool  #: pydicom has a decoder for this syntax at all
    native: bool  #: uncompressed (or deflated): no codec package needed
    plugins: tuple[str, ...] = ()  #: installed decoder plugins, e.g. ("gdcm", "pylibjpeg")
    missing: tuple[str, ...] = ()  #: pydicom's words for each plugin not installed ("gdcm - requires gdcm>=3.0.10")

    @property
    def available(self) -> bool:
        """Whether this installation can decode the syntax."""
        return self.native or bool(self.plugins)

    @property
    def packages(self) -> tuple[str, ...]:
        """The packages the missing plugins need (``pylibjpeg-openjpeg>=2.0``, ``gdcm>=3.0.10``), each once."""
        out: list[str] = []
        for line in self.missing:
            _, _, needs = line.partition(" - requires ")
            for pkg in needs.replace(" and ", ", ").split(", "):
                if pkg and pkg not in out:
                    out.append(pkg)
        return tuple(out)

    def summary(self) -> str:
        """One line: which package decodes this syntax, or what to install."""
        if not self.supported:
            return f"{self.name}: pydicom has no decoder for this encoding"
        if self.native:
            return f"{self.name}: read directly (no codec needed)"
        if self.plugins:
            return f"{self.name}: decoded by {', '.join(self.plugins)}"
        return f"{self.name}: no decoder installed; install {' or '.join(self.install_options())}"

    def install_options(self) -> list[str]:
        """Each missing plugin's requirements as one install choice (``pylibjpeg>=2.0 with pylibjpeg-openjpeg>=2.0``)."""
        out = []
        for line in self.missing:
            label, _, needs = line.partition(" - requires ")
            if needs:
                out.append(needs.replace(", ", " with ").replace(" and ", " with "))
            else:
                out.append(f"the {label} plugin")
        return out or ["a pydicom pixel decoder plugin"]


def is_compressed(transfer_syntax: str) -> bool:
    """Whether pixels of this syntax need a codec (anything but native or deflated little/big endian)."""
    return bool(transfer_syntax) and transfer_syntax not in _NATIVE


@functools.lru_cache(maxsize=64)
def decoder_status(transfer_syntax: str) -> DecoderStatus:
    """The registry's answer for ``transfer_syntax`` (cached: availability does not change while running)."""
    from pydicom.uid import UID

    uid = UID(transfer_syntax)
    name = uid.name if uid.is_transfer_syntax else (transfer_syntax[:64] or "no transfer syntax")
    if transfer_syntax in _NATIVE:
        return DecoderStatus(transfer_syntax, name, supported=True, native=True)
    try:
        from pydicom.pixels import get_decoder

        decoder = get_decoder(uid)
    except (NotImplementedError, ValueError, TypeError):
        return DecoderStatus(transfer_syntax, name, supported=False, native=False)
    return DecoderStatus(
        transfer_syntax,
        name,
        supported=True,
        native=bool(decoder.is_native),
        plugins=tuple(decoder.available_plugins),
        missing=tuple(decoder.missing_dependencies),
    )


def compressed_decoders() -> list[DecoderStatus]:
    """Status of every compressed transfer syntax pydicom can decode with some plugin (for About and ``info``)."""
    import pydicom.uid as uids

    seen: list[str] = []
    for value in vars(uids).values():
        if isinstance(value, uids.UID) and value.is_transfer_syntax and value.is_compressed and value not in seen:
            seen.append(str(value))
    out = [decoder_status(ts) for ts in seen]
    return [s for s in out if s.supported and not s.native]
