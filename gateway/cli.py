"""The ``minplan`` command: ``serve``, ``token`` (dev tokens for the demo), ``schema`` and
``documents build`` (the trusted-documents manifest)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Collection, Sequence

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
            sockets = _worker_sockets(host, args.port, args.workers)
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
        return _serve_workers(sockets, stopped, request_log=args.request_log)
    from .runtime import tune_gc

    tune_gc()
    config = server_config(app, settings, host=host, port=args.port, access_log=args.request_log)
    GracefulServer(config, stopped=stopped).run(sockets=sockets)
    return 0


def _worker_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """One ``SO_REUSEPORT`` socket per worker, once nothing else listens on the port.

    With ``SO_REUSEPORT`` the kernel lets any number of sockets of the same user listen on
    one port and splits connections between them: a second ``minplan serve --workers N``
    would start beside a stale one and take part of its traffic. So the port is first
    bound without it, which fails when anything listens there, then let go for the workers.

    Raises:
        OSError: the port is taken, or cannot be bound.
    """
    from .server import listen

    listen(host, port).close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(listen(host, port, reuse_port=True))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _worker(sock: socket.socket, request_log: bool) -> None:
    import signal

    # Until the app's lifespan takes SIGHUP (a reload), one forwarded early must not kill us.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    from .server import GracefulServer, catch_stop_signals, server_config
    from .settings import Settings

    stopped = catch_stop_signals()
    config = server_config("gateway.asgi:app", Settings(), factory=True, access_log=request_log)
    GracefulServer(config, stopped=stopped).run(sockets=[sock])


def _serve_workers(
    sockets: list[socket.socket], stopped: threading.Event, *, request_log: bool
) -> int:
    """A worker process for each socket, all listening on the same port (``SO_REUSEPORT``).

    Not uvicorn's ``--workers``: there all workers accept from one shared socket, and
    keep-alive clients pile onto whichever worker accepted first. With a socket each, the
    kernel spreads connections. SIGTERM or SIGINT here stops each worker gracefully; the
    exit code is 0 when every worker stopped cleanly. A worker that the stop reached while
    it was still starting ends by the signal before serving anything: that is clean too.
    """
    import multiprocessing
    import signal

    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(target=_worker, args=(sock, request_log), name=f"minplan-worker-{n}")
        for n, sock in enumerate(sockets)
    ]

    def stop(_signum: int, _frame: object) -> None:
        stopped.set()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker's graceful shutdown

    def forward(signum: int, _frame: object) -> None:
        # SIGHUP reloads the trusted documents; each worker holds its own copy.
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, forward)
    if not stopped.is_set():  # no stop came while this process started
        for process in processes:
            process.start()
        if stopped.is_set():  # one came while the workers were being started
            stop(signal.SIGTERM, None)
    for sock in sockets:
        # The worker holds its own copy. Closed here, a worker's socket closes with the
        # worker, and the kernel stops queueing connections for it.
        sock.close()
    for process in processes:
        if process.pid is not None:
            process.join()
    clean = (0, -signal.SIGTERM) if stopped.is_set() else (0,)
    return 0 if all(p.exitcode in clean for p in processes if p.pid is not None) else 1


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


def _token(args: argparse.Namespace) -> int:
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
        description=_demo_people(),
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
