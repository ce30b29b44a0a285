"""The ``minplan`` command as an operator runs it: ``schema``, ``token`` and ``serve``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.people import CLINICIANS, ORG_GP, ORGS, PATIENT_COPD
from gateway.auth import TokenVerifier
from gateway.cli import main
from gateway.devtokens import DEV_ISSUER, DevIssuer
from gateway.settings import REQUIRED_SOURCES, SOURCE_NAMES
from plans.viewer import Role
from schema import SDL_PATH

MINPLAN = Path(sys.executable).with_name("minplan")


@pytest.fixture
def key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The dev issuer's key in tmp_path, never the developer's own; no other MINPLAN_*."""
    for name in list(os.environ):
        if name.startswith("MINPLAN_"):
            monkeypatch.delenv(name)
    path = tmp_path / "dev-signing-key.pem"
    monkeypatch.setenv("MINPLAN_DEV_KEY_FILE", str(path))
    return path


def test_schema_prints_the_committed_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == SDL_PATH.read_text(encoding="utf-8")
    assert "type Query" in printed


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["--role", "citizen"], "cpr", id="citizen-without-cpr"),
        pytest.param(["--role", "citizen", "--cpr", "3102701234"], "cpr", id="no-such-date"),
        pytest.param(["--role", "citizen", "--cpr", "12345"], "cpr", id="too-short"),
        pytest.param(["--role", "clinician"], "org", id="clinician-without-org"),
        pytest.param(["--role", "citizen", "--cpr", PATIENT_COPD, "--ttl", "0"], "ttl",
                     id="zero-ttl"),
    ],
)  # fmt: skip
def test_token_refuses_bad_input_with_exit_2(
    key_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    assert main(["token", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "no token is printed"
    assert captured.err.startswith("minplan token: ")
    assert words in captured.err


def test_token_with_an_unknown_role_exits_2(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "admin"])
    assert exited.value.code == 2
    assert "--role" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["--role", "citizen", "--cpr", PATIENT_COPD],
            (Role.CITIZEN, PATIENT_COPD, None, None, "Karen Jensen"),
            id="citizen",
        ),
        pytest.param(
            ["--role", "clinician", "--org", ORG_GP],
            (Role.CLINICIAN, None, ORG_GP, ORGS[ORG_GP], CLINICIANS[ORG_GP]),
            id="clinician",
        ),
    ],
)
async def test_printed_token_verifies_against_the_issuers_jwks(
    key_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: tuple[object, ...],
) -> None:
    assert main(["token", *argv]) == 0
    token = capsys.readouterr().out.strip()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(DevIssuer(key_file).jwks()))
    verifier = TokenVerifier(issuer=DEV_ISSUER, jwks_url=jwks.as_uri())
    try:
        viewer = await verifier.verify(token)
    finally:
        await verifier.aclose()
    assert (viewer.role, viewer.cpr, viewer.org, viewer.org_name, viewer.name) == expected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "configured",
    [
        pytest.param(["journal"], id="one-optional"),
        pytest.param([n for n in SOURCE_NAMES if n != "consent"], id="all-but-consent"),
        pytest.param([n for n in SOURCE_NAMES if n != "diagnoses"], id="all-but-diagnoses"),
    ],
)
def test_serve_without_a_required_source_exits_2_naming_it(
    tmp_path: Path, configured: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {f"MINPLAN_SOURCE_{n.upper()}_URL": f"http://{n}.test/fhir" for n in configured}
    env |= {
        "MINPLAN_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "MINPLAN_DEV_KEY_FILE": str(tmp_path / "k.pem"),
    }
    # A timeout here means the gateway started serving instead of refusing.
    done = subprocess.run(  # noqa: S603
        [str(MINPLAN), "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    for name in SOURCE_NAMES:
        setting = f"MINPLAN_SOURCE_{name.upper()}_URL"
        missing = name in REQUIRED_SOURCES and name not in configured
        assert (setting in done.stderr) is missing, done.stderr


def test_token_with_an_unreadable_key_file_exits_2_naming_it(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file.write_text("not a key")
    assert main(["token", "--role", "citizen", "--cpr", PATIENT_COPD]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(key_file) in captured.err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("MINPLAN_SOURCE_TIMEOUT", "soon", id="not-a-number"),
        pytest.param("MINPLAN_SOURCE_TIMEOUTS", '{"jornal": 1}', id="unknown-source-name"),
        # No timeout would bound a hanging source: aiohttp's own is off (the search's rules).
        pytest.param("MINPLAN_SOURCE_TIMEOUT", "inf", id="endless-timeout"),
        pytest.param("MINPLAN_SOURCE_TIMEOUTS", '{"journal": 0}', id="zero-timeout"),
        pytest.param("MINPLAN_REQUEST_DEADLINE", "-1", id="negative-deadline"),
    ],
)
def test_serve_with_a_malformed_setting_exits_2_naming_it(
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert variable in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "example.org", "my-laptop", "fe80::1"],  # noqa: S104
)
def test_the_demo_refuses_a_host_beyond_loopback(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **k: started.append(self))
    assert main(["serve", "--host", host, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, "one line"
    assert host in err and "--public-demo" in err
    assert started == [], "nothing was served"
    assert not key_file.exists(), "refused before the demo was built"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_the_demo_serves_on_loopback(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    configs: list[object] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **k: configs.append(self.config))
    assert main(["serve", "--host", host, "--port", "1"]) == 0
    assert len(configs) == 1


def test_the_demo_goes_public_only_when_told_to(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs: list[object] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **k: configs.append(self.config))
    assert main(["serve", "--host", "0.0.0.0", "--port", "1", "--public-demo"]) == 0  # noqa: S104
    assert len(configs) == 1


def test_configured_sources_may_listen_beyond_loopback(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in SOURCE_NAMES:
        monkeypatch.setenv(f"MINPLAN_SOURCE_{name.upper()}_URL", f"http://{name}.test/fhir")
    monkeypatch.setenv("MINPLAN_PSEUDONYM_KEY", "k" * 40)
    monkeypatch.setenv("MINPLAN_AUTH_ISSUER", "https://idp.test")
    monkeypatch.setenv("MINPLAN_AUTH_JWKS_URL", "https://idp.test/jwks")
    monkeypatch.setenv("MINPLAN_AUDIT_URL", f"sqlite:///{tmp_path / 'a.sqlite3'}")
    configs: list[object] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **k: configs.append(self.config))
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 0  # noqa: S104
    assert len(configs) == 1


def test_serve_configures_uvicorn_with_the_slow_client_limits(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.server import GuardedHttpToolsProtocol

    monkeypatch.setenv("MINPLAN_HEADER_TIMEOUT", "3")
    monkeypatch.setenv("MINPLAN_BODY_TIMEOUT", "7.5")
    monkeypatch.setenv("MINPLAN_KEEP_ALIVE_TIMEOUT", "4")
    monkeypatch.setenv("MINPLAN_MAX_BODY_BYTES", "10000")
    configs: list[Any] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **k: configs.append(self.config))
    assert main(["serve", "--port", "1"]) == 0
    [config] = configs
    assert config.server_header is False
    assert config.timeout_keep_alive == 4
    assert issubclass(config.http, GuardedHttpToolsProtocol)
    assert (config.http.header_timeout, config.http.body_timeout) == (3.0, 7.5)
    assert config.http.max_head_bytes > 10000
