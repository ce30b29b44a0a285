"""The client examples (``examples/``) run as a front-end developer runs them, against real
gateways over HTTP: the TypeScript one (``npm ci``, then ``npm test`` in its two steps:
``npm run build``, GraphQL Code Generator and ``tsc``, once; ``npm start``, Apollo Client,
per gateway) and the Python one (gql over httpx).

Two gateways: the demo, where every source answers, and one in front of the demo's
sources with ``appointments`` pointing at a closed port, where a citizen's plan comes with
a ``SOURCE_UNAVAILABLE`` error beside its data. Both examples must show that plan, not
throw it away.

The TypeScript example needs ``node`` and ``npm`` (and the npm registry, once:
``node_modules`` is kept and reinstalled only when ``package-lock.json`` changes). Without
them it is skipped, except under CI, where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.people import PATIENT_COPD
from gateway.devtokens import DEV_ISSUER, DevIssuer
from tests.clients.node import INSTALL_TIMEOUT, install_node_modules, require_tool
from tests.demo_server import MINPLAN, Server, demo_server, free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TYPESCRIPT = EXAMPLES / "typescript"
PYTHON_EXAMPLE = EXAMPLES / "python" / "plan.py"
RUN_TIMEOUT = 120
#: The sources the demo serves over HTTP, which the degraded gateway reads.
LIVE_SOURCES = ("diagnoses", "careplan", "consent")
DOWN = "appointments"

pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 2 * RUN_TIMEOUT)


@contextlib.contextmanager
def gateway_with_a_source_down(demo: Server, home: Path) -> Iterator[Server]:
    """A gateway on the demo's sources, ``appointments`` at a port nobody listens on.

    It takes the demo's tokens: its JWKS is the demo's dev key's.
    """
    key_file = Path(demo.env["MINPLAN_DEV_KEY_FILE"])
    jwks = home / "jwks.json"
    jwks.write_text(json.dumps(DevIssuer(key_file).jwks()), encoding="utf-8")
    env = {k: v for k, v in demo.env.items() if not k.startswith("MINPLAN_")}
    env |= {f"MINPLAN_SOURCE_{s.upper()}_URL": f"{demo.url}/demo/fhir/{s}" for s in LIVE_SOURCES}
    env |= {
        f"MINPLAN_SOURCE_{DOWN.upper()}_URL": f"http://127.0.0.1:{free_port()}/{DOWN}",
        "MINPLAN_AUTH_ISSUER": DEV_ISSUER,
        "MINPLAN_AUTH_JWKS_URL": jwks.as_uri(),
        "MINPLAN_PSEUDONYM_KEY": "examples-pseudonym-key-0123456789abcdef",
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "degraded.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(MINPLAN), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log)
        yield Server(url=url, env=demo.env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    home = tmp_path_factory.mktemp("examples")
    with (
        demo_server(home) as demo,
        gateway_with_a_source_down(demo, home) as degraded,
    ):
        yield {"demo": demo, "degraded": degraded}


@pytest.fixture(scope="module")
def npm() -> str:
    """npm, with the TypeScript example's node_modules in place (``npm ci`` when stale)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    require_tool(node is not None and npm is not None, "node and npm are needed, not found")
    assert npm is not None
    install_node_modules(npm, TYPESCRIPT)
    return npm


@pytest.fixture(scope="module")
def typescript_example(npm: str) -> list[str]:
    """``npm start``, once ``npm run build`` (codegen, then ``tsc``) has made ``dist/``.

    ``npm test`` is the two in one; built once here, each gateway's run is only the run.
    """
    done = subprocess.run(  # noqa: S603
        [npm, "run", "build", "--silent"],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return [npm, "start", "--silent"]


def _run(argv: list[str], cwd: Path, server: Server) -> dict[str, Any]:
    """Run an example as its README says, for Karen Jensen; its last line, the summary."""
    token = server.token("--role", "citizen", "--cpr", PATIENT_COPD)
    env = {"PATH": os.environ.get("PATH", ""), "GATEWAY_URL": server.url, "TOKEN": token}
    done = subprocess.run(  # noqa: S603
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr}"
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    summary["printed"] = done.stdout
    return summary


def _expected_appointments(demo: Server) -> list[str]:
    """Karen's appointments as a plain query reads them from the demo."""
    plan = demo.plan(demo.token("--role", "citizen", "--cpr", PATIENT_COPD))
    return [a["sourceId"] for p in plan["packages"] for a in p["appointments"]]


def _check_plan(summary: dict[str, Any], gateway: str, demo: Server) -> None:
    """What both examples show: Karen's COPD package, and with a source down, the rest."""
    assert summary["cpr"] == PATIENT_COPD
    assert summary["packages"] == ["COPD"]
    assert summary["triage"] == {"COPD": "GREEN"}, "the careplan source's data is used"
    if gateway == "demo":
        assert summary["appointments"] == _expected_appointments(demo)
        assert len(summary["appointments"]) == 4
        assert summary["sources"] == {"diagnoses": True, "appointments": True, "careplan": True}
        assert summary["down"] == [] and summary["errors"] == []
    else:
        assert summary["appointments"] == []
        assert summary["sources"] == {"diagnoses": True, DOWN: False, "careplan": True}
        assert summary["down"] == [DOWN]
        assert summary["errors"] == ["SOURCE_UNAVAILABLE"]
        assert f"Not shown, try again later: {DOWN}" in summary["printed"]
    assert "COPD: triage GREEN" in summary["printed"]


GATEWAYS = [
    pytest.param("demo", id="every-source-answers"),
    pytest.param("degraded", id="appointments-down-the-plan-is-still-shown"),
]


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_typescript_example_reads_a_typed_plan_with_apollo_client(
    typescript_example: list[str], gateways: dict[str, Server], gateway: str
) -> None:
    summary = _run(typescript_example, TYPESCRIPT, gateways[gateway])
    _check_plan(summary, gateway, gateways["demo"])
    assert summary["failures"] == []
    # possibleTypes keeps the Sourced fragment's fields in the cache; without, they are lost.
    assert summary["cachedAppointments"] == summary["appointments"]
    if gateway == "demo":
        assert summary["cachedAppointmentsWithoutPossibleTypes"] == [None] * 4
        assert summary["defaultPolicyKeptPlan"] is True
    else:
        assert summary["defaultPolicyKeptPlan"] is False, "why the example sets errorPolicy all"


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_python_example_reads_a_typed_plan_with_gql(
    gateways: dict[str, Server], gateway: str
) -> None:
    summary = _run([sys.executable, str(PYTHON_EXAMPLE)], REPO, gateways[gateway])
    _check_plan(summary, gateway, gateways["demo"])
    assert summary["types"] == ["date", "datetime"], "Date and DateTime parsed per @specifiedBy"


def test_typescript_possible_types_are_what_the_cli_prints() -> None:
    """``src/possible-types.json`` is ``minplan schema --possible-types``: regenerate it with
    ``npm run possible-types`` when the schema's interfaces change."""
    done = subprocess.run(  # noqa: S603
        [str(MINPLAN), "schema", "--possible-types"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    committed = (TYPESCRIPT / "src" / "possible-types.json").read_text(encoding="utf-8")
    assert committed == done.stdout
    assert "Appointment" in json.loads(committed)["Sourced"]
