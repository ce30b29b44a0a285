"""A real normalising client: Apollo Client (Node) against ``minplan serve`` over HTTP.

Apollo's InMemoryCache merges every object with the same ``__typename:id``. The probe
found a clinician's break-the-glass answer merged into their ordinary one; here the
script ``apollo/cache-views.mjs`` replays it and checks that the cached ordinary read
(and a query watching it) still shows no notes.

Needs ``node`` and ``npm`` (and the npm registry, once: ``node_modules`` is kept and
reinstalled with ``npm ci`` only when ``package-lock.json`` changes). Without them the
test is skipped, except under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.people import ORG_HOSPITAL, PATIENT_BLOCKS
from tests.clients.node import install_node_modules, require_tool
from tests.demo_server import Server, demo_server

PROJECT = Path(__file__).with_name("apollo")
SCRIPT = PROJECT / "cache-views.mjs"
RUN_TIMEOUT = 60
REASON = "Akut indlagt med åndenød, behov for KOL-status"
LIS_NOTES = {"note-lis-ward", "note-lis-gp", "note-lis-physio"}


@pytest.fixture(scope="module")
def apollo_project() -> str:
    """The node executable, with the Apollo project's node_modules in place."""
    node, npm = shutil.which("node"), shutil.which("npm")
    require_tool(node is not None and npm is not None, "node and npm are needed, not found")
    assert node is not None and npm is not None
    install_node_modules(npm, PROJECT)
    return node


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("apollo")) as running:
        yield running


def test_apollo_cache_never_merges_a_break_the_glass_read(
    apollo_project: str, server: Server
) -> None:
    token = server.token("--role", "clinician", "--org", ORG_HOSPITAL, "--name", "Dr. Ida Holm")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_URL": server.url,
        "TOKEN": token,
        "CPR": PATIENT_BLOCKS,
        "REASON": REASON,
    }
    done = subprocess.run(  # noqa: S603
        [apollo_project, SCRIPT.name],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.stdout, f"no summary (exit {done.returncode}): {done.stderr[-2000:]}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["failures"] == [], summary
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r["name"] for r in summary["rounds"]] == ["v1", "v2"]
    for rounds in summary["rounds"]:
        assert rounds["ordinary"] == [] and rounds["cached"] == []
        assert set(rounds["glass"]) == LIS_NOTES
        assert all(seen == [] for seen in rounds["watched"])
        assert rounds["watched"], "the watched query answered"
        # One CarePackage entry per view in the cache, never a shared one.
        ordinary, glass = rounds["packageIds"]["ordinary"], rounds["packageIds"]["glass"]
        assert len(ordinary) == len(glass) == 1 and ordinary != glass
        packages = [k for k in rounds["cacheKeys"] if k.startswith("CarePackage:")]
        assert len(packages) == 2, rounds["cacheKeys"]
    plans = [k for k in summary["rounds"][1]["cacheKeys"] if k.startswith("Plan:")]
    assert len(plans) == 2, "the v2 query normalises each view's Plan on its own"
