"""The A/B's arithmetic and its copy of a git ref (bench/ab.py); the run itself is scripts/bench."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.ab import ref_copy, spread, summarize
from bench.harness import ROOT, code_packages


def test_summary_gives_medians_ratio_and_the_larger_spread_as_noise() -> None:
    s = summarize([100.0, 110.0, 90.0], [104.0, 100.0, 108.0])
    assert (s["median_a"], s["median_b"], s["ratio"]) == (100.0, 104.0, 1.04)
    assert (s["spread_a"], s["spread_b"], s["noise"]) == (0.2, 0.077, 0.2)
    assert s["paired_ratios"] == [1.04, 0.909, 1.2]
    assert not s["beyond_noise"]


def test_a_difference_larger_than_both_spreads_is_beyond_the_noise() -> None:
    assert summarize([100.0, 101.0], [120.0, 121.0])["beyond_noise"]
    assert spread([5.0, 5.0]) == 0.0


def test_code_packages_are_the_packages_but_bench_and_tests(tmp_path: Path) -> None:
    for name in ("gateway", "core", "bench", "tests", "notes"):
        (tmp_path / name).mkdir()
        if name != "notes":
            (tmp_path / name / "__init__.py").touch()
    assert code_packages(tmp_path) == ("core", "gateway")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_ref_copy_unpacks_the_refs_packages_with_bench_beside_them(tmp_path: Path) -> None:
    inside = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],  # noqa: S607
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    if inside != "true":
        pytest.skip("not a git checkout")
    bench = tmp_path / "bench-src"
    shutil.copytree(ROOT / "bench", bench, ignore=shutil.ignore_patterns("results"))
    version = ref_copy("HEAD", tmp_path / "ref", bench)
    dest = tmp_path / "ref"
    assert version["packages"] == list(code_packages(dest))
    assert "gateway" in version["packages"] and "bench" not in version["packages"]
    assert (dest / "gateway" / "__init__.py").is_file()
    assert (dest / "bench" / "ab.py").is_file()
    assert len(version["git_commit"]) == 7 and len(version["sha256"]) == 12
