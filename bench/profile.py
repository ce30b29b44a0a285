"""Sample the gateway under load with py-spy and name its hottest functions.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``); a
function's *self* share counts the samples where it is the innermost frame, its *total*
share those where it is anywhere on the stack (once per stack).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["py_spy", "start_py_spy", "summarize"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_ROOT = str(Path(__file__).resolve().parent.parent)
_PACKAGES = ("gateway/", "schema/", "plans/", "upstream/", "connectors/", "core/")
#: Our own packages' frames: py-spy names files relative to their sys.path entry.
_OURS = re.compile(rf"\((?:{re.escape(_ROOT)}/)?(?:{'|'.join(_PACKAGES)})")
#: Stages of a request, by a frame that marks them; a sample counts if any frame matches.
STAGES: dict[str, tuple[str, ...]] = {
    "GraphQL validation (graphql-core validate)": ("validate_document (",),
    "schema extensions built per request": ("get_extensions (",),
    "token verification (PyJWT, ES256)": ("TokenVerifier.verify (",),
    "plan resolver (PlanReader.read, all of it)": ("PlanReader.read (",),
    "sources: SourcePipeline.fetch (cache, breaker, retry, connector)": ("SourcePipeline.fetch (",),
    "HTTP client to sources (aiohttp / httpx / httpcore)": (
        "/aiohttp/",
        "/httpx/",
        "/httpcore/",
        "/httpx_aiohttp/",
    ),
    "FHIR parsing (pydantic model_validate)": ("model_validate (",),
    "cache (aiocache)": ("/aiocache/",),
    "consent filter + assembly": ("filter_records (", "assemble_packages (", "decide_access ("),
    "GraphQL execution (result completion)": ("Executor.complete_",),
    "answer JSON encoding": ("encode_json (",),
    "logging": ("/logging/",),
    "access log (aiosqlite)": ("/aiosqlite/",),
}


def py_spy() -> str | None:
    """The py-spy executable beside this Python, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_py_spy(executable: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` for ``seconds`` at 250 Hz without pausing it; stacks go to ``out``."""
    argv = [executable, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    argv += ["--rate", "250", "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Shares of samples: self time, inclusive time, our own functions, request stages."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_name(f) for f in stack.split(";")]
        self_counts[frames[-1]] += count
        for name in set(frames):
            total_counts[name] += count
        raw_frames = stack.split(";")
        for stage, markers in STAGES.items():
            if any(m in f for f in raw_frames for m in markers):
                stages[stage] += count
        for name in {_name(f) for f in raw_frames if _OURS.search(f)}:
            ours[name] += count

    def shares(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [
            {"function": name, "pct": round(100 * c / samples, 1)}
            for name, c in counter.most_common(n)
        ]

    # Leave out the frames every stack shares (the event loop, the ASGI server).
    common = {name for name, c in total_counts.items() if c > 0.7 * samples}
    inclusive = Counter({k: v for k, v in total_counts.items() if k not in common})
    return {
        "samples": samples,
        "self": shares(self_counts, top),
        "total": shares(inclusive, top),
        "own_code": shares(ours, top),
        "stages": shares(stages, len(STAGES)),
    }
