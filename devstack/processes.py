"""Ports, waits and the processes a development stack starts, stopped together with all their children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil

T = TypeVar("T")
RUN_MARKER = "CLOUDFRONT_SSL_DEVSTACK_RUN"
"""Set in the environment of every process a stack starts, to find those that left their group."""


class StackFailure(RuntimeError):
    """A step of a stack failed; ``step`` names it and ``detail`` says what happened."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there on 127.0.0.1, else a free port the system picks.

    The probe binds as the servers do, with ``SO_REUSEADDR``: the connections of a stack just stopped
    linger in TIME_WAIT for a minute, and without it they would make a free port look taken (a
    restarted ``make up`` would then move from 8080 to a random port).
    """
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Call ``check`` until it returns something other than None; :class:`StackFailure` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise StackFailure(what, f"not done after {timeout:.0f} s")
        time.sleep(interval)


def tail(path: Path | None, lines: int = 30) -> str:
    """The last lines of a log file, indented, for an error message."""
    if not path or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last lines of {path} ---\n" + "\n".join("    " + line for line in text)


@dataclass
class Started:
    """One started process: its name, its ``Popen`` and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id (also its process group id: each process gets a session of its own)."""
        return self.popen.pid

    def tree(self) -> list[psutil.Process]:
        """The process and every descendant still alive."""
        try:
            parent = psutil.Process(self.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class Processes:
    """The processes a stack started, each in its own session, and how to stop them with their children.

    A session of its own means a Ctrl-C in the terminal reaches only the caller, which then stops the
    processes in order; each is stopped with its whole tree (``airflow standalone`` starts the other
    components, a Celery worker forks task processes). A process that left its tree (a task runner may
    daemonize) still carries the run's marker in its environment and is found by it.
    """

    cwd: Path | None = None
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str], log: Path) -> Started:
        """Start ``command`` with its output appended to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as log_file:
            popen = subprocess.Popen(
                command,
                env={**env, RUN_MARKER: self.marker},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(name, popen, log)
        self.started.append(started)
        return started

    def get(self, name: str) -> Started:
        """The process started under ``name``."""
        return next(started for started in self.started if started.name == name)

    def check_alive(self) -> None:
        """Raise :class:`StackFailure`, with the end of its log, if a started process has exited."""
        for started in self.started:
            if started.popen.poll() is not None:
                raise StackFailure(
                    f"run {started.name}", f"exited with code {started.popen.returncode}\n{tail(started.log)}"
                )

    def kill(self, name: str) -> None:
        """``kill -9`` a process and all its children at once, as when its machine or container dies."""
        started = self.get(name)
        tree = started.tree()
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)
        started.popen.wait(timeout=10)
        self.started.remove(started)

    def stop(self, started: list[Started], grace: float = 20) -> None:
        """SIGTERM to the processes and their children at once, SIGKILL to what is left after ``grace`` s."""
        tree = [process for one in started for process in one.tree()]
        for process in tree:
            try:
                process.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(tree, timeout=grace)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        for one in started:
            try:
                one.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.started.remove(one)

    def stop_all(self, say: Callable[[str], None] | None = None) -> None:
        """Stop every process started, then any straggler carrying the run's marker."""
        if say:
            for started in self.started:
                if started.popen.poll() is None:
                    say(f"  stopping {started.name} (pid {started.pid})")
        self.stop(list(self.started))
        stragglers = []
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.environ().get(RUN_MARKER) == self.marker:
                    stragglers.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        for process in stragglers:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(stragglers, timeout=10)
        self.started.clear()
