"""Wiring for the embedded demo: the dev issuer's JWKS and the playground's preloaded query."""

from __future__ import annotations

import json
import os
from pathlib import Path

from demo.people import PATIENT_COPD, PATIENTS

from .devtokens import DevIssuer
from .playground import PlaygroundPreset

__all__ = ["EXAMPLE_QUERY", "demo_playground", "write_demo_jwks"]

EXAMPLE_QUERY = """# Min Plan demo. The Headers tab holds a token for the citizen Karen Jensen.
# Other viewers: `.venv/bin/minplan token --help`, then paste the token into Headers.
query MyPlan {
  me { role name cpr }
  plan {
    cpr
    restricted
    packages {
      id
      kind
      diagnoses { code display onset recordedBy }
      triage { level assessedAt assessedBy }
      goals { description target due status }
      appointments { status start description actor }
      journalNotes { date title author text }
      preventionOffers { title provider status url }
      healthLiteracy { score answeredAt }
      course { status startedAt coordinator { name } lastReviewAt nextReviewDue }
      measurements { display value unit at origin target onTarget }
      medications { name atc status start end dosage prescriber }
    }
    unassigned {
      appointments { status start description actor }
      journalNotes { date title }
    }
    sources { name ok stale latencyMs error }
  }
}
"""


def write_demo_jwks(key_path: Path | None = None) -> tuple[Path, DevIssuer]:
    """Load (or create) the dev signing key and write its JWKS beside it, for file:// use."""
    issuer = DevIssuer(key_path)
    jwks_path = issuer.key_path.with_name("dev-jwks.json")
    tmp = jwks_path.with_name(f".{jwks_path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(issuer.jwks()), encoding="utf-8")
    tmp.replace(jwks_path)
    return jwks_path, issuer


def demo_playground(issuer: DevIssuer) -> PlaygroundPreset:
    """The playground's preloaded query and headers, with a citizen's token (Karen Jensen).

    The token is made on each page load, not once at start: a demo left running for days
    still hands out one that verifies.
    """

    def preset() -> dict[str, str]:
        token = issuer.issue(role="citizen", cpr=PATIENT_COPD, name=PATIENTS[PATIENT_COPD])
        headers = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
        return {"query": EXAMPLE_QUERY, "headers": headers}

    return preset
