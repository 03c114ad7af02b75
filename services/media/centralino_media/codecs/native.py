"""Loading the reference C codec libraries (libopus, libgsm, bcg729, spandsp) with ctypes.

Each library is loaded once per process, by its Debian soname, and a missing library turns
into :class:`CodecUnavailableError` naming the package to install.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

from centralino_media.codecs.base import CodecUnavailableError

#: library -> (sonames to try, Debian package that ships it)
LIBRARIES: dict[str, tuple[tuple[str, ...], str]] = {
    "opus": (("libopus.so.0",), "libopus0"),
    "gsm": (("libgsm.so.1",), "libgsm1"),
    "bcg729": (("libbcg729.so.0",), "libbcg729-0"),
    "spandsp": (("libspandsp.so.2",), "libspandsp2"),
}


@cache
def load(name: str) -> ctypes.CDLL:
    sonames, package = LIBRARIES[name]
    found = ctypes.util.find_library(name)
    for soname in (*sonames, *([found] if found else [])):
        try:
            return ctypes.CDLL(soname)
        except OSError:
            continue
    raise CodecUnavailableError(f"lib{name} not found; install the Debian package {package}")
