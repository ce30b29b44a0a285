"""``minplan token``: dev tokens for the embedded demo's people and organisations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection

__all__ = ["demo_people", "token_command"]


def _token_misuse(args: argparse.Namespace, known_orgs: Collection[str]) -> str | None:
    """Why these token options do not go together, or None when they do.

    An option meant for the other role would otherwise be dropped without a word, and a
    mistyped organisation would make a token that the demo serves no patients to.
    """
    if args.role == "citizen":
        given = [flag for flag, value in (("--org", args.org), ("--org-name", args.org_name))
                 if value is not None]  # fmt: skip
        if args.allow_unknown_org:
            given.append("--allow-unknown-org")
        if given:
            return f"{' and '.join(given)} belong to --role clinician; a citizen has only --cpr"
        return None
    if args.cpr is not None:
        return "--cpr belongs to --role citizen; a clinician has --org (their SOR code)"
    if args.org is not None and args.org not in known_orgs and not args.allow_unknown_org:
        return (
            f"--org {args.org} is not one of the demo's organisations "
            f"({', '.join(known_orgs)}); add --allow-unknown-org to make the token anyway"
        )
    return None


def token_command(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from demo.people import CLINICIANS, ORGS, PATIENTS

    from .devtokens import DevIssuer

    misuse = _token_misuse(args, ORGS)
    if misuse is not None:
        print(f"minplan token: {misuse}", file=sys.stderr)
        return 2
    name = args.name
    org_name = args.org_name
    if args.role == "citizen" and name is None and args.cpr in PATIENTS:
        name = PATIENTS[args.cpr]
    if args.role == "clinician":
        if org_name is None and args.org in ORGS:
            org_name = ORGS[args.org]
        if name is None:
            name = CLINICIANS.get(args.org, "Demo Kliniker")
    try:
        token = DevIssuer().issue(
            role=args.role,
            cpr=args.cpr,
            org=args.org,
            org_name=org_name,
            name=name,
            ttl=args.ttl,
        )
    except (ValueError, ConfigError) as exc:  # bad input, or an unreadable key file
        print(f"minplan token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def demo_people() -> str:
    from demo.people import CLINICIANS, ORGS, PATIENTS

    lines = ["The embedded demo's people (--role citizen --cpr CPR):"]
    lines += [f"  {cpr}  {name}" for cpr, name in PATIENTS.items()]
    lines.append("and organisations (--role clinician --org SOR), with their clinician:")
    lines += [f"  {sor}  {ORGS[sor]} ({CLINICIANS[sor]})" for sor in ORGS]
    lines.append("See the README's demo table for what each one shows.")
    return "\n".join(lines)
