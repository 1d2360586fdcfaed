"""A throwaway PostgreSQL 15 cluster for tests and benchmarks (DESIGN.md section 9).

Used when ``RAIDT_TEST_POSTGRES_URL`` is unset. The server refuses to run as root, so the
cluster runs as the ``postgres`` user in a temporary directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def why_unavailable() -> str | None:
    """Why a throwaway cluster cannot start here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing)"
    if os.geteuid() != 0:
        return "tests do not run as root, so cannot start PostgreSQL as the postgres user"
    return None


def start() -> Cluster:
    reason = why_unavailable()
    if reason:
        raise RuntimeError(reason)
    d = Path(tempfile.mkdtemp(prefix="raidt-pg-"))
    shutil.chown(d, "postgres")
    port = _free_port()
    run = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run,
            str(PG_BIN / "initdb"),
            "-D",
            str(d / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(d / "data"),
            "-l",
            str(d / "log"),
            "-w",
            "start",
            "-o",
            f"-k {d} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200",
        ],
        check=True,
        capture_output=True,
    )
    return Cluster(d, port)
