"""The ``minplan`` command: ``serve``, ``token`` (dev tokens for the demo), ``schema`` and
``documents build`` (the trusted-documents manifest)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import sys
from collections.abc import Sequence

from .token_command import demo_people, token_command

__all__ = ["main"]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _cannot_listen(host: str, port: int, exc: OSError) -> int:
    """One line for a port that cannot be listened on, and exit code 2."""
    if exc.errno == errno.EADDRINUSE:
        reason = "another process already listens there (a server still running?)"
    else:
        reason = exc.strerror or str(exc)
    print(f"minplan: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from core.errors import ConfigError

    from .app import create_app
    from .logs import configure_logging
    from .server import GracefulServer, catch_stop_signals, listen, server_config
    from .settings import Settings, explain
    from .workers import serve_workers, worker_sockets

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
    if args.workers < 1:
        print("minplan: --workers must be 1 or more", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, request_log=args.request_log)
    self_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in self_host:  # an IPv6 address goes in brackets in a URL (RFC 3986)
        self_host = f"[{self_host}]"
    try:
        app = create_app(settings, self_url=f"http://{self_host}:{args.port}")
    except ConfigError as exc:
        print(f"minplan: {exc}", file=sys.stderr)
        return 2
    # Bound before the banner: the banner is true once printed, and a busy port is one line.
    try:
        if args.workers > 1:
            sockets = worker_sockets(host, args.port, args.workers)
        else:
            sockets = [listen(host, args.port)]
    except OSError as exc:
        return _cannot_listen(host, args.port, exc)
    stopped = catch_stop_signals()  # a SIGTERM from here on is a graceful stop
    if settings.demo:
        print(
            f"Min Plan demo: playground at http://{self_host}:{args.port}/graphql "
            "(a citizen's token is preloaded; `.venv/bin/minplan token --help` for others)",
            file=sys.stderr,
        )
    if args.workers > 1:
        # Each worker process builds its own app (and HTTP pool) from the environment.
        os.environ["MINPLAN_SELF_URL"] = f"http://{self_host}:{args.port}"
        os.environ["MINPLAN_SERVE_REQUEST_LOG"] = "1" if args.request_log else "0"
        return serve_workers(sockets, stopped, request_log=args.request_log)
    from .runtime import tune_gc

    tune_gc()
    config = server_config(app, settings, host=host, port=args.port, access_log=args.request_log)
    GracefulServer(config, stopped=stopped).run(sockets=sockets)
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

    from .documents_build import manifest_json, read_document

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


class _DeprecatedNoAccessLog(argparse.Action):
    """``--no-access-log``, the old name of ``--no-request-log``: still works, and warns.

    The old name read as if it turned off the patients' access log, which no flag does.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(
            "minplan: --no-access-log is deprecated, use --no-request-log (it turns off the "
            "HTTP request log; the patients' access log is always written)",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, False)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minplan")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minplan", description="Min Plan: one chronic-care plan from every sector."
    )
    parser.add_argument("--version", action="version", version=f"minplan {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the gateway (the embedded demo when no source is configured)",
        description="Run the gateway on HOST:PORT. With no MINPLAN_SOURCE_*_URL set it serves "
        "the embedded demo (loopback only); SIGTERM stops it gracefully (exit 0).",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; the demo refuses one "
                       "beyond loopback)")  # fmt: skip
    serve.add_argument("--port", type=int, default=8000,
                       help="TCP port to listen on (default 8000)")  # fmt: skip
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; see the README's benchmark)")  # fmt: skip
    serve.add_argument("--no-request-log", dest="request_log", action="store_false",
                       help="do not log each HTTP request (the patients' access log is "
                       "always written)")  # fmt: skip
    serve.add_argument("--no-access-log", dest="request_log", nargs=0,
                       action=_DeprecatedNoAccessLog, help=argparse.SUPPRESS)  # fmt: skip
    serve.add_argument("--public-demo", action="store_true",
                       help="let the demo (its page hands out tokens) leave loopback")  # fmt: skip
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token",
        help="print a dev token the embedded demo accepts",
        description=demo_people(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("--role", choices=["citizen", "clinician"], required=True)
    token.add_argument("--cpr", help="the citizen's CPR number (citizens only)")
    token.add_argument("--org", help="the clinician's organisation, SOR code (clinicians only)")
    token.add_argument("--allow-unknown-org", action="store_true",
                       help="accept an --org the demo does not know")  # fmt: skip
    token.add_argument("--org-name", help="organisation name (clinicians; default: the demo's)")
    token.add_argument("--name", help="the person's name")
    token.add_argument("--ttl", type=float, default=12 * 3600, help="seconds (default 12 h)")
    token.set_defaults(func=token_command)

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
