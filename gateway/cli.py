"""The ``minplan`` command: ``serve``, ``token`` (dev tokens for the demo), ``schema`` and
``documents build`` (the trusted-documents manifest)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from core.errors import ConfigError

    from .app import create_app
    from .logs import configure_logging
    from .server import server_config
    from .settings import Settings, explain

    try:
        settings = Settings()
    except ValidationError as exc:
        for line in explain(exc):
            print(f"minplan: {line}", file=sys.stderr)
        return 2
    host = args.host
    if settings.demo and not _is_loopback(host) and not args.public_demo:
        # The demo's playground hands every visitor a working token: not for a network.
        print(
            f"minplan: the demo serves loopback only; --host {host} would hand its tokens to "
            "anyone who can reach it (add --public-demo if that is what you want)",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level, request_log=args.access_log)
    self_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in self_host:  # an IPv6 address goes in brackets in a URL (RFC 3986)
        self_host = f"[{self_host}]"
    try:
        app = create_app(settings, self_url=f"http://{self_host}:{args.port}")
    except ConfigError as exc:
        print(f"minplan: {exc}", file=sys.stderr)
        return 2
    if settings.demo:
        print(
            f"Min Plan demo: playground at http://{self_host}:{args.port}/graphql "
            "(a citizen's token is preloaded; `.venv/bin/minplan token --help` for others)",
            file=sys.stderr,
        )
    if args.workers > 1:
        # Each worker process builds its own app (and HTTP pool) from the environment.
        os.environ["MINPLAN_SELF_URL"] = f"http://{self_host}:{args.port}"
        os.environ["MINPLAN_SERVE_REQUEST_LOG"] = "1" if args.access_log else "0"
        return _serve_workers(host, args.port, args.workers, access_log=args.access_log)
    from .runtime import tune_gc

    tune_gc()
    config = server_config(app, settings, host=host, port=args.port, access_log=args.access_log)
    uvicorn.Server(config).run()
    return 0


def _worker(host: str, port: int, access_log: bool) -> None:
    import signal

    import uvicorn

    # Until the app's lifespan takes SIGHUP (a reload), one forwarded early must not kill us.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    from .server import server_config
    from .settings import Settings

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    config = server_config("gateway.asgi:app", Settings(), factory=True, access_log=access_log)
    uvicorn.Server(config).run(sockets=[sock])


def _serve_workers(host: str, port: int, workers: int, *, access_log: bool) -> int:
    """N worker processes, each with its own SO_REUSEPORT socket on the same port.

    Not uvicorn's ``--workers``: there all workers accept from one shared socket, and
    keep-alive clients pile onto whichever worker accepted first. With a socket each, the
    kernel spreads connections.
    """
    import multiprocessing
    import signal

    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(target=_worker, args=(host, port, access_log), name=f"minplan-worker-{n}")
        for n in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    def forward(signum: int, _frame: object) -> None:
        # SIGHUP reloads the trusted documents; each worker holds its own copy.
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, forward)
    for process in processes:
        process.join()
    return max((p.exitcode or 0) for p in processes)


def _token(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from demo.people import CLINICIANS, ORGS, PATIENTS

    from .devtokens import DevIssuer

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
            cpr=args.cpr if args.role == "citizen" else None,
            org=args.org if args.role == "clinician" else None,
            org_name=org_name,
            name=name,
            ttl=args.ttl,
        )
    except (ValueError, ConfigError) as exc:  # bad input, or an unreadable key file
        print(f"minplan token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from schema import build_schema, export_sdl
    from schema.possible_types import possible_types_json

    if args.possible_types:
        sys.stdout.write(possible_types_json(build_schema()._schema))
        return 0
    sys.stdout.write(export_sdl())
    return 0


def _documents_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from schema import build_schema

    from .documents import manifest_json, read_document

    schema = build_schema()._schema
    try:
        documents = [read_document(Path(name), schema) for name in args.files]
    except ValueError as exc:
        print(f"minplan documents build: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.write_bytes(manifest_json(documents))
    for document in documents:
        print(f"{document.id}  {document.path}  {document.operation or '(anonymous)'}")
    count = len({d.id for d in documents})
    print(f"{count} document{'' if count == 1 else 's'} in {output}", file=sys.stderr)
    return 0


def _demo_people() -> str:
    from demo.people import CLINICIANS, ORGS, PATIENTS

    lines = ["The embedded demo's people (--role citizen --cpr CPR):"]
    lines += [f"  {cpr}  {name}" for cpr, name in PATIENTS.items()]
    lines.append("and organisations (--role clinician --org SOR), with their clinician:")
    lines += [f"  {sor}  {ORGS[sor]} ({CLINICIANS[sor]})" for sor in ORGS]
    lines.append("See the README's demo table for what each one shows.")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minplan", description="Min Plan: one chronic-care plan from every sector."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the gateway (the embedded demo when no source is configured)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; the demo refuses a non-loopback one)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; see the README's benchmark)")  # fmt: skip
    serve.add_argument("--no-access-log", dest="access_log", action="store_false",
                       help="do not log each HTTP request")  # fmt: skip
    serve.add_argument("--public-demo", action="store_true",
                       help="let the demo (its page hands out tokens) leave loopback")  # fmt: skip
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token",
        help="print a dev token the embedded demo accepts",
        description=_demo_people(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("--role", choices=["citizen", "clinician"], required=True)
    token.add_argument("--cpr", help="the citizen's CPR number (citizens)")
    token.add_argument("--org", help="the clinician's organisation, SOR code (clinicians)")
    token.add_argument("--org-name", help="organisation name (default: the demo's)")
    token.add_argument("--name", help="the person's name")
    token.add_argument("--ttl", type=float, default=12 * 3600, help="seconds (default 12 h)")
    token.set_defaults(func=_token)

    schema = sub.add_parser(
        "schema",
        help="print the GraphQL schema (SDL)",
        description="Print the served GraphQL schema (SDL); schema/minplan.graphql holds it.",
    )
    schema.add_argument(
        "--possible-types",
        action="store_true",
        help="print each interface's and union's object types as JSON instead, in the shape "
        "of Apollo Client's InMemoryCache({ possibleTypes })",
    )
    schema.set_defaults(func=_schema)

    documents = sub.add_parser(
        "documents",
        help="trusted documents: the manifest of the only operations served",
        description="Trusted documents (MINPLAN_TRUSTED_DOCUMENTS): see the README.",
    )
    documents_sub = documents.add_subparsers(dest="documents_command", required=True)
    build = documents_sub.add_parser(
        "build",
        help="write the manifest from .graphql files, one operation each",
        description="Write the trusted-documents manifest from a front end's .graphql files "
        '({"sha256:<hex>": "<document>"}, sorted, UTF-8) and print each id. Every file '
        "holds one operation (and its fragments) and must validate against the schema.",
    )
    build.add_argument("files", nargs="+", metavar="FILE", help="a .graphql file")
    build.add_argument(
        "--output", "-o", default="manifest.json", help="where to write (default manifest.json)"
    )
    build.set_defaults(func=_documents_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
