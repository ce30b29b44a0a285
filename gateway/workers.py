"""``minplan serve --workers N``: one process per worker, each with its own socket.

Apart from :mod:`gateway.cli` (the command line) because the worker is a spawn target that
imports this module afresh in every worker process.
"""

from __future__ import annotations

import os
import socket
import threading

__all__ = ["serve_workers", "worker_sockets"]


def worker_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
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


def serve_workers(
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
