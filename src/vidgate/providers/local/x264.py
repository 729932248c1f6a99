"""libx264 settings that make an encode a pure function of its frames.

libx264's AVX-512 kernels read memory that the encoder never wrote, so on CPUs with AVX-512
the bitstream depends on whatever the heap held before: two encodes of the same frames in one
process can differ, and more so while other renders run beside them. Capping x264 at the
AVX2 kernels (or the best set below them that the CPU has) removes that input.
"""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["ENCODER_OPTIONS", "instruction_set", "instruction_set_from_flags"]

_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}

_LEVELS: tuple[tuple[str, frozenset[str]], ...] = (
    ("AVX2", frozenset({"avx", "avx2", "fma", "bmi1", "bmi2", "abm", "sse4_2", "ssse3"})),
    ("AVX", frozenset({"avx", "sse4_2", "ssse3"})),
    ("SSE4.2", frozenset({"sse4_2", "sse4_1", "ssse3"})),
    ("SSSE3", frozenset({"ssse3", "pni"})),
    ("SSE2", frozenset({"sse2"})),
)
"""x264's cumulative instruction-set names, best first, with the cpuinfo flags each needs."""

_BASELINE = "SSE2"
"""Every x86-64 CPU has SSE2; used where the CPU's flags cannot be read."""


def instruction_set_from_flags(flags: set[str]) -> str:
    """The best x264 instruction set below AVX-512 that a CPU with ``flags`` supports."""
    for name, needed in _LEVELS:
        if needed <= flags:
            return name
    return _BASELINE


def _cpu_flags(cpuinfo: Path) -> set[str] | None:
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return None


def instruction_set(
    machine: str | None = None, cpuinfo: Path = Path("/proc/cpuinfo")
) -> str | None:
    """The x264 ``asm`` setting for this CPU, or None where x264 has no AVX-512 kernels."""
    if (machine or platform.machine()).lower() not in _X86:
        return None
    flags = _cpu_flags(cpuinfo)
    return _BASELINE if flags is None else instruction_set_from_flags(flags)


def _encoder_options() -> dict[str, str]:
    options = {"preset": "veryfast", "crf": "28"}
    asm = instruction_set()
    if asm is not None:
        options["x264-params"] = f"asm={asm}"
    return options


ENCODER_OPTIONS: dict[str, str] = _encoder_options()
"""libx264 settings used for every render."""
