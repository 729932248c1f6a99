"""A render is a function of its spec alone: not of heap contents, threads or the CPU's extras."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidgate.providers.local.x264 import instruction_set, instruction_set_from_flags

_RENDER = """
import hashlib, sys
from pathlib import Path
from vidgate.providers.local.render import render_video
from vidgate.providers.local.spec import RenderSpec
spec = RenderSpec(mode="t2v", prompt="a paper boat drifting across a quiet pond at sunset",
                  width=160, height=96, fps=8, duration=2, seed=7, model="test-model")
out = Path(sys.argv[1])
for round in range(3):
    render_video(spec, out)
    print(hashlib.sha256(out.read_bytes()).hexdigest())
"""


def _digests(tmp_path: Path, perturb: int) -> list[str]:
    env = {**os.environ, "MALLOC_PERTURB_": str(perturb)}
    done = subprocess.run(
        [sys.executable, "-c", _RENDER, str(tmp_path / f"out{perturb}.mp4")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.split()


def test_renders_do_not_depend_on_what_the_heap_held(tmp_path: Path) -> None:
    # MALLOC_PERTURB_ fills fresh allocations with a chosen byte: an encoder that reads memory
    # it never wrote gives different bytes for different fillings.
    digests = {digest for perturb in (0, 77, 200) for digest in _digests(tmp_path, perturb)}
    assert len(digests) == 1


def test_a_render_in_process_matches_one_in_a_fresh_process(tmp_path: Path) -> None:
    from vidgate.providers.local.render import render_video
    from vidgate.providers.local.spec import RenderSpec

    spec = RenderSpec(
        mode="t2v",
        prompt="a paper boat drifting across a quiet pond at sunset",
        width=160,
        height=96,
        fps=8,
        duration=2,
        seed=7,
        model="test-model",
    )
    render_video(spec, tmp_path / "here.mp4")
    here = hashlib.sha256((tmp_path / "here.mp4").read_bytes()).hexdigest()
    assert _digests(tmp_path, 0)[0] == here


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"sse2", "ssse3", "pni", "sse4_1", "sse4_2", "avx", "avx2", "fma", "bmi1", "bmi2", "abm",
          "avx512f", "avx512bw"}, "AVX2"),
        ({"sse2", "ssse3", "pni", "sse4_1", "sse4_2", "avx", "avx2", "fma", "bmi1", "bmi2", "abm"},
         "AVX2"),
        ({"sse2", "ssse3", "pni", "sse4_1", "sse4_2", "avx"}, "AVX"),
        ({"sse2", "ssse3", "pni", "sse4_1", "sse4_2"}, "SSE4.2"),
        ({"sse2", "ssse3", "pni"}, "SSSE3"),
        ({"sse2"}, "SSE2"),
        (set(), "SSE2"),
    ],
)  # fmt: skip
def test_x264_is_capped_below_avx512(flags: set[str], expected: str) -> None:
    assert instruction_set_from_flags(flags) == expected


def test_cpuinfo_is_read_on_x86_and_ignored_elsewhere(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 ssse3 pni sse4_1 sse4_2 avx\n")
    assert instruction_set("x86_64", cpuinfo) == "AVX"
    assert instruction_set("x86_64", tmp_path / "missing") == "SSE2"
    assert instruction_set("aarch64", cpuinfo) is None
