"""The Docker image and docker-compose.yml, proven without Docker: each compose service's
command runs as the image's non-root user, with the compose environment, in a folder laid
out as the container would see it (the image's directories with the image's owners, the
named volumes as the image leaves them, the host's config mounted read-only), against the
test PostgreSQL and Redis in place of the compose ones.

The layout is read from the Dockerfile (ENV, WORKDIR, USER, COPY, and the ``mkdir``/``chown``
of its RUN lines) and docker-compose.yml, so a change to either is what this test runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import ROOT, wait_for
from tests.servers import free_port

pytestmark = pytest.mark.slow

CODE = {"oncall", "worker", "pyproject.toml", "README.md"}  # installed: the venv stands in


@dataclass
class Image:
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: tuple[int, int] = (0, 0)
    user_line: str = "root"
    copies: list[tuple[str, str]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # made by RUN mkdir, and WORKDIR
    chowns: list[tuple[str, int, int, bool]] = field(default_factory=list)  # path, uid, gid, -R


def instructions(text: str) -> Iterator[tuple[str, str]]:
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word.upper(), rest.strip()


def read_dockerfile(path: Path) -> Image:
    image = Image()
    users: dict[str, str] = {}  # name -> uid, from useradd
    groups: dict[str, str] = {}  # uid -> gid
    for word, rest in instructions(path.read_text()):
        if word == "ENV":
            image.env.update(part.split("=", 1) for part in shlex.split(rest))  # type: ignore[misc]
        elif word == "WORKDIR":
            image.workdir = str(PurePosixPath(image.workdir) / rest)
            image.dirs.append(image.workdir)
        elif word == "USER":
            image.user_line = rest
            uid, _, gid = rest.partition(":")
            uid = str(users.get(uid, uid))
            image.user = (int(uid), int(gid or groups.get(uid, uid)))
        elif word == "COPY":
            *sources, dest = shlex.split(rest)
            image.copies += [(src.rstrip("/"), dest) for src in sources]
        elif word == "RUN":
            for command in re.split(r"&&|;", rest):
                args = shlex.split(command)
                if args[:1] == ["useradd"]:
                    opts = dict(pairwise(args[1:]))
                    uid = opts.get("--uid") or opts["-u"]
                    users[args[-1]] = uid
                    groups[uid] = opts.get("--gid") or opts.get("-g") or uid
                elif args[:1] == ["mkdir"]:
                    image.dirs += [a for a in args[1:] if not a.startswith("-")]
                elif args[:1] == ["chown"]:
                    flags = [a for a in args[1:] if a.startswith("-")]
                    owner, *paths = [a for a in args[1:] if not a.startswith("-")]
                    uid, _, gid = owner.partition(":")
                    image.chowns += [(p, int(uid), int(gid or uid), "-R" in flags)
                                     for p in paths]
    return image


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""
    def one(m: re.Match[str]) -> str:
        name, op, word = m.group(1), m.group(2), m.group(3)
        if dotenv.get(name):
            return dotenv[name]
        assert op != ":?", f"compose refuses to start: {word}"
        return word or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


class Container:
    """A folder laid out as a container of the image sees its file system."""

    def __init__(self, root: Path, image: Image, service: dict[str, Any],
                 dotenv: dict[str, str], project: Path) -> None:
        self.root, self.image = root, image
        for d in image.dirs:
            self.path(d).mkdir(parents=True, exist_ok=True)
        for src, dest in image.copies:
            if src not in CODE:  # anything else the image bakes in is there for real
                target = self.path(str(PurePosixPath(image.workdir) / dest))
                shutil.copytree(ROOT / src, target, dirs_exist_ok=True)
        for d, uid, gid, recursive in image.chowns:
            for p in [self.path(d), *(self.path(d).rglob("*") if recursive else [])]:
                os.chown(p, uid, gid)
        home = self.path("/home/oncall")  # useradd --create-home
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, *image.user)
        tmp = self.path("/tmp")
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)
        for volume in service.get("volumes", []):
            source, target, *_mode = interpolate(volume, dotenv).split(":")
            if "/" not in source:
                # A named volume starts as a copy of the image's folder, owner included;
                # where the image has none, Docker makes the mount point, owned by root.
                self.path(target).mkdir(parents=True, exist_ok=True)
            else:
                # A bind mount shows the host folder (made, as root, when missing); :ro,
                # and owned by root here as on a host: the container's user only reads.
                host = (project / source).resolve()
                host.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(self.path(target), ignore_errors=True)
                shutil.copytree(host, self.path(target))

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def image() -> Image:
    return read_dockerfile(ROOT / "Dockerfile")


@pytest.fixture
def image_user(image: Image) -> Iterator[tuple[int, int]]:
    """The image's user exists here too (as root: made for the test, removed after)."""
    uid, gid = image.user
    if uid == 0:
        pytest.fail("the image runs as root; it must name a non-root USER")
    if os.geteuid() != 0:
        pytest.skip("running the services as another user needs root (CI runs as root)")
    import grp
    import pwd

    made = []
    try:
        grp.getgrgid(gid)
    except KeyError:
        subprocess.run(["groupadd", "--gid", str(gid), "oncall-image-test"], check=True)
        made.append(["groupdel", "oncall-image-test"])
    try:
        pwd.getpwuid(uid)
    except KeyError:
        subprocess.run(["useradd", "--uid", str(uid), "--gid", str(gid), "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "oncall-image-test"], check=True)
        made.insert(0, ["userdel", "oncall-image-test"])
    yield uid, gid
    for command in made:  # userdel also removes a group of the user's name
        subprocess.run(command, check=False, stderr=subprocess.DEVNULL)


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="oncall-image-"))
    path.chmod(0o755)  # the image's user must reach the folders inside
    yield path
    shutil.rmtree(path, ignore_errors=True)


def service_env(c: Container, service: dict[str, Any], dotenv: dict[str, str],
                database_url: str, broker_url: str) -> dict[str, str]:
    env = {**c.image.env}
    env.update({k: interpolate(str(v), dotenv) for k, v in service["environment"].items()})
    # Container paths resolve inside the folder standing in for the container.
    env = {k: str(c.path(v)) if v.startswith("/") else v for k, v in env.items()}
    if database_url.startswith("postgresql") and broker_url.startswith("redis"):
        env.update(ONCALL_DATABASE_URL=database_url, ONCALL_BROKER_URL=broker_url)
    else:  # no PostgreSQL and Redis here: the embedded ones, in the image's data folder
        env.pop("ONCALL_DATABASE_URL")
        env.pop("ONCALL_BROKER_URL")
    env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               HOME=str(c.path("/home/oncall")), TMPDIR=str(c.path("/tmp")), LANG="C.UTF-8")
    return env


def as_user(argv: list[str], user: tuple[int, int]) -> tuple[list[str], dict[str, Any]]:
    """``argv`` run as ``user``, and the Popen arguments that go with it.

    Where this interpreter lives behind a folder the user may not search (a Python built
    under /root: the image has its own under /usr/local), the user gets CAP_DAC_READ_SEARCH,
    which lets it read and search any folder and nothing more: every write, the subject of
    this test, is still checked against the owners the image and compose give."""
    probe = subprocess.run(["sh", "-c", 'exec "$0" -c pass', sys.executable], user=user[0],
                           group=user[1], extra_groups=[], capture_output=True, check=False)
    if probe.returncode == 0:
        return argv, {"user": user[0], "group": user[1], "extra_groups": []}
    return ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--",
            *argv], {}


def start(c: Container, service: dict[str, Any], env: dict[str, str], user: tuple[int, int],
          name: str, argv: list[str] | None = None) -> subprocess.Popen[bytes]:
    command, creds = as_user(argv or service["command"], user)
    log = open(c.root / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps its copy
    try:
        return subprocess.Popen(command, cwd=c.path(c.image.workdir), env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, **creds)
    finally:
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_image_bakes_in_no_config_and_runs_as_a_numeric_non_root_user(
        image: Image) -> None:
    # Numeric, so that a runtime checking runAsNonRoot (Kubernetes) can tell.
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", image.user_line), image.user_line
    baked = [src for src, _dest in image.copies if src not in CODE]
    assert baked == [], "the example team would be applied to production and paged about"


def test_the_compose_services_run_as_the_image_user_with_the_compose_volumes(
        compose: dict[str, Any], image: Image, image_user: tuple[int, int], root: Path,
        migrated: str, broker_url: str) -> None:
    services = compose["services"]
    project = root / "project"  # where the operator runs `docker compose`, with its .env
    project.mkdir()
    dotenv = {"ONCALL_SECRET_KEY": "s3cret-for-the-compose-test"}

    # The first deploy: no config written yet. Migrate must succeed and apply nothing.
    first = Container(root / "first", image, services["migrate"], dotenv, project)
    env = service_env(first, services["migrate"], dotenv, migrated, broker_url)
    proc = start(first, services["migrate"], env, image_user, "migrate")
    assert proc.wait(120) == 0, (first.root / "migrate.log").read_text()
    out = (first.root / "migrate.log").read_text()
    assert "database is up to date" in out and "nothing to apply" in out, out

    # The operator starts from the example team: copies it into their config folder.
    config = project / "config"
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, config / name, dirs_exist_ok=True)
    c = Container(root / "second", image, services["migrate"], dotenv, project)
    env = service_env(c, services["migrate"], dotenv, migrated, broker_url)
    proc = start(c, services["migrate"], env, image_user, "migrate")
    assert proc.wait(120) == 0, (c.root / "migrate.log").read_text()
    assert "applied 18 object(s)" in (c.root / "migrate.log").read_text()

    # The long-running services, sharing the metrics volume as the compose file says.
    port = free_port()
    web_cmd = list(services["web"]["command"])
    assert web_cmd[web_cmd.index("--port") + 1] == "8080"
    assert "8080:8080" in services["web"]["ports"]
    assert "127.0.0.1:8080/health" in " ".join(services["web"]["healthcheck"]["test"])
    web_cmd[web_cmd.index("--port") + 1] = str(port)
    web_cmd[web_cmd.index("--host") + 1] = "127.0.0.1"  # not on every interface of this host
    procs = {}
    try:
        for name in ("web", "worker", "beat"):
            env = service_env(c, services[name], dotenv, migrated, broker_url)
            procs[name] = start(c, services[name], env, image_user, name,
                                web_cmd if name == "web" else None)
        url = f"http://127.0.0.1:{port}"

        def answers(path: str) -> bool:
            dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
            assert not dead, (dead, {n: (c.root / f"{n}.log").read_text()[-3000:]
                                     for n in dead})
            try:
                return requests.get(url + path, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(lambda: answers("/health"), 90, what="web /health")
        # Ready: the database and broker answer, and beat and the worker swept.
        wait_for(lambda: answers("/ready"), 90, what="web /ready")
        time.sleep(5)  # worker and beat keep running
        assert {n: p.poll() for n, p in procs.items()} == dict.fromkeys(procs)
        metrics = requests.get(f"{url}/metrics", timeout=10)
        assert metrics.status_code == 200
        swept = re.search(r"^oncall_sweeper_runs_total (\S+)$", metrics.text, re.M)
        assert swept and float(swept.group(1)) > 0  # the worker's count, read by the web
    finally:
        for p in procs.values():
            stop(p)
    logs = {n: (c.root / f"{n}.log").read_text() for n in ("migrate", *procs)}
    for name, text in logs.items():
        assert "PermissionError" not in text and "Permission denied" not in text, \
            (name, text[-3000:])
    metrics_dir = Path(env["ONCALL_METRICS_DIR"])
    written = list(metrics_dir.iterdir())
    assert written and {f.stat().st_uid for f in written} == {image_user[0]}
