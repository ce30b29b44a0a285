"""``minplan documents build``: a front end's ``.graphql`` files become the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from demo.people import PATIENT_COPD
from gateway.cli import main
from gateway.documents import read_manifest
from tests.conftest import MakeGateway

PLAN = """# Min Plan: borgerens plan (æøå)
query MyPlan {
  plan { cpr packages { kind } }
}
"""
ME = "query Me { me { role } }\n"
WITH_FRAGMENT = """query Kinds { plan { ...Kinds } }
fragment Kinds on Plan { packages { kind } }
"""


def _files(tmp_path: Path, **texts: str) -> list[str]:
    paths = []
    for name, text in texts.items():
        path = tmp_path / f"{name}.graphql"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


def test_build_writes_a_sorted_utf8_manifest_and_prints_each_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path, plan=PLAN, me=ME, kinds=WITH_FRAGMENT)
    output = tmp_path / "out" / "manifest.json"
    output.parent.mkdir()
    assert main(["documents", "build", *files, "--output", str(output)]) == 0
    raw = output.read_bytes()
    manifest = json.loads(raw)
    expected = {"sha256:" + hashlib.sha256(t.encode()).hexdigest(): t
                for t in (PLAN, ME, WITH_FRAGMENT)}  # fmt: skip
    assert manifest == expected
    assert list(manifest) == sorted(manifest)
    assert "æøå".encode() in raw, "UTF-8 as it is, not escaped"
    assert read_manifest(output) == expected, "the gateway reads what the build writes"
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    for line, (name, text) in zip(
        printed, [("MyPlan", PLAN), ("Me", ME), ("Kinds", WITH_FRAGMENT)], strict=True
    ):
        assert line.split() == [
            "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
            files[[PLAN, ME, WITH_FRAGMENT].index(text)],
            name,
        ]


def test_the_default_output_is_manifest_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["documents", "build", *_files(tmp_path, me=ME)]) == 0
    assert list(json.loads((tmp_path / "manifest.json").read_text()).values()) == [ME]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param(ME + "query Other { me { role } }\n", "holds 2 operations",
                     id="two-operations"),
        pytest.param("fragment F on Plan { cpr }\n", "holds 0 operations", id="only-a-fragment"),
        pytest.param("", "does not parse", id="empty"),
        pytest.param("query { me { role }\n", "does not parse", id="syntax-error"),
        pytest.param("query { me { shoeSize } }\n", "does not validate", id="unknown-field"),
        pytest.param("query { ...Missing }\n", "does not validate", id="fragment-elsewhere"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_one_valid_operation_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    good, bad = _files(tmp_path, good=ME, bad=text)
    output = tmp_path / "manifest.json"
    assert main(["documents", "build", good, bad, "-o", str(output)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"minplan documents build: {bad}: ")
    assert says in err
    assert not output.exists(), "no manifest from a broken build"


def test_a_missing_file_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.graphql"
    assert main(["documents", "build", str(missing), "-o", str(tmp_path / "m.json")]) == 2
    assert str(missing) in capsys.readouterr().err


async def test_a_built_manifest_is_served_by_id(
    tmp_path: Path, make_gateway: MakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "manifest.json"
    assert main(["documents", "build", *_files(tmp_path, plan=PLAN), "-o", str(output)]) == 0
    [document_id] = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    async with make_gateway(trusted_documents=output) as gw:
        response = await gw.client.post(
            "/graphql",
            json={"documentId": document_id},
            headers={"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["plan"]["cpr"] == PATIENT_COPD
