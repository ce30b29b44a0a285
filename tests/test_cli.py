"""The ``minplan`` command as an operator runs it: ``schema``, ``token`` and ``serve``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.people import CLINICIANS, ORG_GP, ORGS, PATIENT_COPD
from gateway.auth import TokenVerifier
from gateway.cli import main
from gateway.devtokens import DEV_ISSUER, DevIssuer
from gateway.settings import REQUIRED_SOURCES, SOURCE_NAMES
from plans.viewer import Role
from schema import SDL_PATH
from tests.demo_server import demo_server

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


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """uvicorn's run replaced: the configs it was given; the sockets bound for it, closed."""
    configs: list[Any] = []

    def run(self: Any, sockets: list[socket.socket] | None = None) -> None:
        configs.append(self.config)
        for sock in sockets or []:
            sock.close()

    monkeypatch.setattr("uvicorn.Server.run", run)
    return configs


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
    key_file: Path, served: list[Any], capsys: pytest.CaptureFixture[str], host: str
) -> None:
    assert main(["serve", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, "one line"
    assert host in err and "--public-demo" in err
    assert served == [], "nothing was served"
    assert not key_file.exists(), "refused before the demo was built"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_the_demo_serves_on_loopback(key_file: Path, served: list[Any], host: str) -> None:
    assert main(["serve", "--host", host, "--port", "0"]) == 0
    assert len(served) == 1


def test_the_demo_goes_public_only_when_told_to(key_file: Path, served: list[Any]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--public-demo"]) == 0  # noqa: S104
    assert len(served) == 1


def test_configured_sources_may_listen_beyond_loopback(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, served: list[Any]
) -> None:
    for name in SOURCE_NAMES:
        monkeypatch.setenv(f"MINPLAN_SOURCE_{name.upper()}_URL", f"http://{name}.test/fhir")
    monkeypatch.setenv("MINPLAN_PSEUDONYM_KEY", "k" * 40)
    monkeypatch.setenv("MINPLAN_AUTH_ISSUER", "https://idp.test")
    monkeypatch.setenv("MINPLAN_AUTH_JWKS_URL", "https://idp.test/jwks")
    monkeypatch.setenv("MINPLAN_AUDIT_URL", f"sqlite:///{tmp_path / 'a.sqlite3'}")
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0  # noqa: S104
    assert len(served) == 1


def test_serve_configures_uvicorn_with_the_slow_client_limits(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    from gateway.server import GuardedHttpToolsProtocol

    monkeypatch.setenv("MINPLAN_HEADER_TIMEOUT", "3")
    monkeypatch.setenv("MINPLAN_BODY_TIMEOUT", "7.5")
    monkeypatch.setenv("MINPLAN_KEEP_ALIVE_TIMEOUT", "4")
    monkeypatch.setenv("MINPLAN_MAX_BODY_BYTES", "10000")
    assert main(["serve", "--port", "0"]) == 0
    [config] = served
    assert config.server_header is False
    assert config.timeout_keep_alive == 4
    assert issubclass(config.http, GuardedHttpToolsProtocol)
    assert (config.http.header_timeout, config.http.body_timeout) == (3.0, 7.5)
    assert config.http.max_head_bytes > 10000


# --- serve: the port is bound before the banner, and a busy one is one line ------------------


def _serve_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    return env | {
        "MINPLAN_DEV_KEY_FILE": str(home / "dev-signing-key.pem"),
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
    }


def _serve_refused(home: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    # A timeout here means the gateway started serving instead of refusing.
    return subprocess.run(  # noqa: S603
        [str(MINPLAN), "serve", "--port", str(port), *args],
        env=_serve_env(home),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _listener(port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket()
    if reuse_port:  # as each worker of a `minplan serve --workers N` listens
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    ("reuse_port", "workers"),
    [
        pytest.param(False, "1", id="plain-listener-one-process"),
        pytest.param(True, "1", id="reuseport-listener-one-process"),
        pytest.param(True, "2", id="reuseport-listener-workers"),
    ],
)
def test_serve_on_a_busy_port_exits_2_with_one_line_and_no_banner(
    tmp_path: Path, reuse_port: bool, workers: str
) -> None:
    port = free_port()
    with _listener(port, reuse_port=reuse_port):
        done = _serve_refused(tmp_path, port, "--workers", workers)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"minplan: cannot listen on 127.0.0.1:{port}: ")
    assert "already listens" in done.stderr
    assert "playground" not in done.stderr, "no ready banner for a server that never served"
    assert "Traceback" not in done.stderr


def test_a_second_server_with_workers_refuses_the_port_of_a_running_one(tmp_path: Path) -> None:
    """Two ``serve --workers 2`` on one port would split its traffic: the second refuses."""
    first_home = tmp_path / "first"
    first_home.mkdir()
    with demo_server(first_home, "--workers", "2") as first:
        port = int(first.url.rsplit(":", 1)[1])
        done = _serve_refused(tmp_path, port, "--workers", "2")
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "already listens" in done.stderr
        # The first one still answers, every time: nothing else took part of its port.
        for _ in range(5):
            assert httpx.get(f"{first.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("workers", [pytest.param("1", id="one-process"),
                                     pytest.param("2", id="workers")])  # fmt: skip
def test_the_ready_banner_prints_once_the_port_listens(tmp_path: Path, workers: str) -> None:
    """And a SIGTERM right then, while the app may still be starting, is a clean stop."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [str(MINPLAN), "serve", "--port", str(port), "--workers", workers, "--no-request-log"],
        env=_serve_env(tmp_path),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the process's own log lines come first, if any
            if "playground at" in line:
                break
        else:
            pytest.fail(f"no banner; exit code {process.wait()}")
        assert f"127.0.0.1:{port}/graphql" in line
        # Printed: the port listens now (the kernel queues the connection at least).
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, "a SIGTERM is a clean stop"
        assert process.stderr is not None
        process.stderr.close()


# --- the command line's help, version and flags ---------------------------------------------


def test_serve_help_names_host_and_port_with_their_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines at any width
    assert "--host HOST address to listen on (default 127.0.0.1" in text
    assert "--port PORT TCP port to listen on (default 8000)" in text
    assert "--no-request-log do not log each HTTP request" in text
    assert "--no-access-log" not in text, "the old name is hidden"


def test_schema_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["schema", "--help"])
    assert "Print the served GraphQL schema (SDL)" in capsys.readouterr().out


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"minplan {version('minplan')}\n"


@pytest.mark.parametrize(
    ("flag", "warned"),
    [
        pytest.param("--no-request-log", False, id="new-name"),
        pytest.param("--no-access-log", True, id="old-name-still-works-and-warns"),
    ],
)
def test_no_request_log_turns_off_the_http_request_log(
    key_file: Path,
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
    flag: str,
    warned: bool,
) -> None:
    assert main(["serve", "--port", "0", flag]) == 0
    [config] = served
    assert config.access_log is False
    err = capsys.readouterr().err
    assert ("--no-access-log is deprecated, use --no-request-log" in err) is warned


def test_serve_logs_http_requests_by_default(key_file: Path, served: list[Any]) -> None:
    assert main(["serve", "--port", "0"]) == 0
    [config] = served
    assert config.access_log is True


def test_serve_gives_uvicorn_the_shutdown_grace(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    monkeypatch.setenv("MINPLAN_SHUTDOWN_GRACE_S", "3")
    assert main(["serve", "--port", "0"]) == 0
    [config] = served
    assert config.timeout_graceful_shutdown == 3


def test_serve_with_real_sources_and_no_issuer_says_the_default_is_the_demos(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in REQUIRED_SOURCES:
        monkeypatch.setenv(f"MINPLAN_SOURCE_{name.upper()}_URL", f"http://{name}.test/fhir")
    monkeypatch.setenv("MINPLAN_PSEUDONYM_KEY", "k" * 40)
    assert main(["serve", "--port", "0"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1] for line in lines] == [
        " MINPLAN_AUTH_ISSUER",
        " MINPLAN_AUTH_JWKS_URL",
    ]
    for line in lines:
        assert "the demo's dev issuer, holds for the embedded demo only" in line


# --- token: options of the other role, and organisations the demo does not know -------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["--role", "clinician", "--org", "999"],
                     ["--org 999 is not one of the demo's organisations", ORG_GP,
                      "--allow-unknown-org"], id="unknown-org"),
        pytest.param(["--role", "clinician", "--org", ORG_GP, "--cpr", PATIENT_COPD],
                     ["--cpr belongs to --role citizen"], id="cpr-for-a-clinician"),
        pytest.param(["--role", "citizen", "--cpr", PATIENT_COPD, "--org", ORG_GP],
                     ["--org belong to --role clinician"], id="org-for-a-citizen"),
        pytest.param(["--role", "citizen", "--cpr", PATIENT_COPD, "--org-name", "X"],
                     ["--org-name belong to --role clinician"], id="org-name-for-a-citizen"),
        pytest.param(["--role", "citizen", "--cpr", PATIENT_COPD, "--allow-unknown-org"],
                     ["--allow-unknown-org belong to --role clinician"],
                     id="allow-unknown-org-for-a-citizen"),
    ],
)  # fmt: skip
def test_token_refuses_options_that_do_not_fit(
    key_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    assert main(["token", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "no token is printed"
    assert captured.err.startswith("minplan token: ")
    assert captured.err.count("\n") == 1
    for word in words:
        assert word in captured.err
    assert not key_file.exists(), "refused before a key was made"


async def test_token_for_an_unknown_org_when_allowed_names_that_org(
    key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "--role", "clinician", "--org", "999", "--allow-unknown-org"]
    assert main(argv) == 0
    token = capsys.readouterr().out.strip()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(DevIssuer(key_file).jwks()))
    verifier = TokenVerifier(issuer=DEV_ISSUER, jwks_url=jwks.as_uri())
    try:
        viewer = await verifier.verify(token)
    finally:
        await verifier.aclose()
    assert (viewer.role, viewer.org, viewer.cpr) == (Role.CLINICIAN, "999", None)
