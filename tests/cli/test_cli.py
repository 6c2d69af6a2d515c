"""The `kudos` command as an operator runs it, in real subprocesses."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from app.boards.tables import PersonPeriod
from app.demo.seed import seed_demo
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.kudos.tables import Kudos
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.requests.tables import Request
from app.signin.services import authenticate
from tests.factories import make_employee

KUDOS = [sys.executable, "-m", "app.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _servers_on(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline and process.info["name"] in {"postgres", "redis-server"}:
            found.append(process)
    return found


def _start_serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["KUDOS_DATA_DIR"] = str(data_dir)
    process = subprocess.Popen(
        [*KUDOS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _started.append(process)
    return process


_started: list[subprocess.Popen[str]] = []  # `kudos serve` processes of the running test (_end_serve_processes)


def _wait_for_login_page(process: subprocess.Popen[str], url: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 90:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("kudos serve did not answer within 90 s")


def _sign_in(url: str, email: str) -> httpx.Response:
    with httpx.Client(base_url=url) as client:
        client.get("/login")
        return client.post(
            "/login",
            data={"_csrf_token": client.cookies["kudos_csrf"], "email": email, "password": "demo-password"},
        )


def _stop(process: subprocess.Popen[str], sig: signal.Signals) -> str:
    process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()  # and reap it: a process left running would also leak its pipes into later tests
        output, _ = process.communicate()
        raise AssertionError(f"kudos serve did not stop within 60 s; it printed:\n{output[-6000:]}") from None
    assert process.returncode == 0, output
    return output


@pytest.fixture(autouse=True)
def _end_serve_processes() -> Iterator[None]:
    """A test that failed half-way leaves no `kudos serve` process (nor its pipes) behind for the next one."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def serve_dir() -> Iterator[Path]:
    """A directory for `kudos serve`'s data outside pytest's temporary root: run as root, the embedded PostgreSQL
    runs as a user of its own, and a parallel worker's pytest may reset that root to mode 0700 at any moment."""
    path = Path(tempfile.mkdtemp(prefix="kudos-serve-"))
    yield path
    for server in _servers_on(path):
        server.kill()
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class FirstServe:
    """What the first `kudos serve` on an empty data directory did: started, signed into, stopped with Ctrl-C."""

    data_dir: Path
    url: str
    sign_in_status: int
    servers_while_running: bool
    output: str
    servers_after: list[psutil.Process]


@pytest.fixture(scope="module")
def first_serve(serve_dir: Path) -> FirstServe:
    """The first start creates the embedded servers' data and loads the demo, most of the time `serve` ever takes:
    done once for this module, and the later starts (again, and interrupted) run on the data it left."""
    data_dir = serve_dir / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start_serve(data_dir, port)
    _wait_for_login_page(process, url)
    status = _sign_in(url, "admin@example.com").status_code
    running = bool(_servers_on(data_dir))
    output = _stop(process, signal.SIGINT)
    return FirstServe(data_dir, url, status, running, output, _servers_on(data_dir))


def test_serve_starts_everything_stops_cleanly_and_reuses_its_data(first_serve: FirstServe) -> None:
    url, output = first_serve.url, first_serve.output
    assert first_serve.sign_in_status == 303
    assert first_serve.servers_while_running, "embedded PostgreSQL and Redis run under the data directory"
    assert "Loaded the demo organisation: 10 departments, 60 people." in output
    assert "Three months of activity: " in output and " kudos, " in output
    assert "admin@example.com" in output and "demo-password" in output
    assert "Kudos stopped." in output
    assert f"Kudos is running at {url} " in output  # the address it listens on, as the README says
    assert re.search(r"kudos\.http\b.* GET /login 200 \d+\.\d ms", output), "one line per request"
    assert re.search(r"kudos\.http\b.* POST /login 303 \d+\.\d ms", output)
    assert "← cron:health_check" not in output, "cron ticks that did nothing are quiet"
    assert first_serve.servers_after == [], "Ctrl-C leaves no server behind"

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    second = _start_serve(first_serve.data_dir, port)
    _wait_for_login_page(second, url)
    assert _sign_in(url, "employee@example.com").status_code == 303
    output = _stop(second, signal.SIGTERM)
    assert "Loaded the demo organisation" not in output, "the demo loads only into an empty database"
    assert _servers_on(first_serve.data_dir) == []


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KUDOS, *args], env=os.environ.copy(), capture_output=True, text=True, timeout=60)


async def test_createadmin_creates_an_admin_and_refuses_a_short_password(db) -> None:
    done = _run("createadmin", "--email", "ops@example.com", "--name", "Ops Person", "--password", "a long password")
    assert done.returncode == 0, done.stderr
    assert "Created admin Ops Person <ops@example.com>." in done.stdout
    user = await authenticate("ops@example.com", "a long password")
    assert user is not None and user.role == Role.ADMIN

    refused = _run("createadmin", "--email", "ops2@example.com", "--name", "X", "--password", "short")
    assert refused.returncode == 1
    assert "at least 10 characters" in refused.stderr


async def test_seed_demo_refuses_a_database_that_has_people(db) -> None:
    await seed_demo(activity=False)
    done = _run("seed", "demo")
    assert done.returncode == 1
    assert "the demo loads only into an empty one" in done.stderr
    assert await Employee.count() == 60 and await Kudos.count() == 0 and await Request.count() == 0


def test_web_and_worker_refuse_to_run_without_servers() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    for command in ("web", "worker"):
        done = subprocess.run([*KUDOS, command], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "DATABASE_URL and REDIS_URL must be set" in done.stderr


def test_production_mode_refuses_to_start_without_a_secret_key() -> None:
    env = {**os.environ, "KUDOS_ENV": "production", "KUDOS_BASE_URL": "https://kudos.example.com"}
    env.pop("KUDOS_SECRET_KEY")
    done = subprocess.run([*KUDOS, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "production mode needs KUDOS_SECRET_KEY" in done.stderr


async def test_boards_rebuild_check_fails_on_a_difference_and_rebuild_repairs_it(db) -> None:
    giver = await make_employee("Gina Giver")
    ravi = await make_employee("Ravi Resolver")
    await give_kudos(await load_current_user(giver.id), GiveForm(recipient_ids=[ravi.id], message="Thanks", points="4"))
    assert _run("boards", "rebuild", "--check").returncode == 0
    await PersonPeriod.update({PersonPeriod.points: 40}).where(PersonPeriod.employee == ravi.id)

    checked = _run("boards", "rebuild", "--check")
    assert checked.returncode == 1
    assert "person_period: 10 rows, 10 differing" in checked.stdout  # 5 periods, stored and expected
    assert "the rollups differ from the ledger" in checked.stderr
    assert _run("boards", "rebuild").returncode == 0
    assert _run("boards", "rebuild", "--check").returncode == 0
    assert {row["points"] for row in await PersonPeriod.select().where(PersonPeriod.employee == ravi.id)} == {4}


async def test_boards_rebuild_month_repairs_that_month(db) -> None:
    giver = await make_employee("Gina Giver")
    ravi = await make_employee("Ravi Resolver")
    await give_kudos(await load_current_user(giver.id), GiveForm(recipient_ids=[ravi.id], message="Thanks", points="4"))
    month = (await PersonPeriod.select(PersonPeriod.start).where(PersonPeriod.period == "month").first())["start"]
    await PersonPeriod.update({PersonPeriod.points: 40}).where(PersonPeriod.employee == ravi.id)

    rebuilt = _run("boards", "rebuild", "--month", f"{month:%Y-%m}")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "person_period: 10 rows written" in rebuilt.stdout  # 5 periods each for the giver and the recipient
    assert _run("boards", "rebuild", "--check").returncode == 0
    assert {row["points"] for row in await PersonPeriod.select().where(PersonPeriod.employee == ravi.id)} == {4}
    assert "write the month as YYYY-MM" in _run("boards", "rebuild", "--month", "May").stderr
    assert "leave out --month" in _run("boards", "rebuild", "--check", "--month", f"{month:%Y-%m}").stderr


def test_ctrl_c_while_start_up_jobs_run_stops_both_embedded_servers(first_serve: FirstServe) -> None:
    """Ctrl-C as soon as the worker starts its start-up jobs, then again and again like an impatient operator until
    `serve` exits: the worker's jobs are cancelled, and neither embedded server outlives `serve`."""
    data_dir = first_serve.data_dir
    process = _start_serve(data_dir, _free_port())
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Starting worker for" in line:  # arq starts its start-up jobs right after this line
            break
    assert _servers_on(data_dir), "".join(lines)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:  # Ctrl-C, Ctrl-C, Ctrl-C … until it exits
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    output, _ = process.communicate(timeout=10)
    assert _servers_on(data_dir) == [], "".join(lines) + output
