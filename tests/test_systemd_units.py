"""The systemd units: the directives the daemon relies on, and ``systemd-analyze verify``.

``systemd-analyze verify`` refuses a unit whose ExecStart binary does not exist, and the
units name the deployment path ``/opt/reelwatch/bin/reelwatch``. So the verify tests copy
the units to a temporary folder and change only that path, to the ``reelwatch`` console
script of the Python running the tests (or, when reelwatch is not pip-installed, a launcher
that runs this Python's ``-m reelwatch.cli``); every other byte is verified as shipped.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reelwatch.cli.base import EXIT_USAGE
from reelwatch.cli.main import parse
from reelwatch.service.systemd import Notifier

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
PLAIN = UNITS / "reelwatch.service"
TEMPLATE = UNITS / "reelwatch@.service"
DEPLOYED_BINARY = "/opt/reelwatch/bin/reelwatch"
TIME_UNITS = {"s": 1, "sec": 1, "min": 60, "h": 3600, "ms": 0.001}

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """Sections -> key -> every value in order (systemd keys may repeat; an empty value resets)."""
    unit: Unit = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"directive outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def seconds(value: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * TIME_UNITS[unit or "s"]
    return total


def one(unit: Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


@pytest.fixture(scope="module", params=["plain", "template"])
def unit(request: pytest.FixtureRequest) -> tuple[str, Unit]:
    path = PLAIN if request.param == "plain" else TEMPLATE
    return request.param, parse_unit(path.read_text())


REQUIRED = {
    "Type": "notify", "NotifyAccess": "main", "Restart": "on-failure", "DynamicUser": "yes",
    "NoNewPrivileges": "yes", "PrivateMounts": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "", "AmbientCapabilities": "",
}


def test_required_directives(unit: tuple[str, Unit]) -> None:
    kind, u = unit
    for key, expected in REQUIRED.items():
        assert one(u, "Service", key) == expected, f"{kind}: [Service] {key}= should be {expected!r}"
    assert set(one(u, "Service", "RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6",
                                                                          "AF_NETLINK"}
    filters = u["Service"]["SystemCallFilter"]
    assert filters[0] == "@system-service"
    assert all(f.startswith("~") for f in filters[1:])
    assert "ReadWritePaths" not in u["Service"], "the state directory comes from StateDirectory= only"
    assert one(u, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in one(u, "Unit", "Wants")


def test_paths_per_unit(unit: tuple[str, Unit]) -> None:
    kind, u = unit
    name = "production" if kind == "plain" else "%i"
    assert one(u, "Service", "ExecStart") == f"{DEPLOYED_BINARY} run --config /etc/reelwatch/{name}.toml"
    assert one(u, "Service", "StateDirectory") == ("reelwatch" if kind == "plain" else "reelwatch/%i")
    env = one(u, "Service", "EnvironmentFile")
    assert env == f"-/etc/reelwatch/{name}.env", "the environment file must be optional (leading '-')"


def test_commands_are_real_cli_invocations(unit: tuple[str, Unit]) -> None:
    """ExecStart and ExecReload parse with reelwatch's own argument parser."""
    _, u = unit
    start = shlex.split(one(u, "Service", "ExecStart"))
    command, params = parse(start[1:])
    assert command == ("run",) and params["config"].startswith("/etc/reelwatch/")
    reload = u["Service"]["ExecReload"]
    assert reload[-1] == "/bin/kill -HUP $MAINPID", "SIGHUP is how the daemon reloads"
    validate = shlex.split(reload[0])
    assert validate[0] == DEPLOYED_BINARY
    command, params = parse(validate[1:])
    assert (command, params["file"]) == (("config", "validate"), start[-1])


def test_timeouts_fit_the_daemon(unit: tuple[str, Unit]) -> None:
    _, u = unit
    watchdog = seconds(one(u, "Service", "WatchdogSec"))
    notifier = Notifier({"WATCHDOG_USEC": str(int(watchdog * 1e6))})
    assert notifier.watchdog_interval == pytest.approx(watchdog / 2)  # the daemon pings at half
    assert watchdog >= 60, "volume scans run on the pinging thread: a short watchdog kills a busy daemon"
    assert seconds(one(u, "Service", "TimeoutStartSec")) >= 600, "READY=1 comes after the first full reconcile"
    assert seconds(one(u, "Service", "TimeoutStopSec")) >= 90, "stopping drains in-flight probes"
    assert one(u, "Service", "RestartPreventExitStatus") == str(EXIT_USAGE)
    assert one(u, "Service", "Environment") == "PYTHONFAULTHANDLER=1"


def test_plain_and_template_differ_only_in_names() -> None:
    plain, template = parse_unit(PLAIN.read_text()), parse_unit(TEMPLATE.read_text())
    for section in ("Unit", "Service", "Install"):
        rendered = {k: [v.replace("%i", "production") for v in vs] for k, vs in template[section].items()}
        if section == "Unit":
            rendered["Description"] = [d.replace(" (production)", "") for d in rendered["Description"]]
        if section == "Service":
            rendered["StateDirectory"] = ["reelwatch"]
        assert plain[section] == rendered, f"[{section}] of the two units drifted apart"


# -- systemd-analyze verify -------------------------------------------------------------------

def _analyzer() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed; on Debian/Ubuntu: apt-get install -y systemd")
    return tool


def _binary(tmp: Path) -> str:
    """An executable reelwatch to stand at the deployed path's place."""
    for candidate in (Path(sys.executable).parent / "reelwatch", shutil.which("reelwatch")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    launcher = tmp / "reelwatch"
    launcher.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m reelwatch.cli \"$@\"\n")
    launcher.chmod(0o755)
    return str(launcher)


def _stage(tmp: Path) -> Path:
    """Copy both units to ``tmp/units`` with only the binary path changed."""
    units = tmp / "units"
    units.mkdir()
    binary = _binary(tmp)
    quoted = f'"{binary}"' if " " in binary else binary
    for src in (PLAIN, TEMPLATE):
        text = src.read_text()
        staged = text.replace(DEPLOYED_BINARY, quoted)
        changed = [a for a, b in zip(text.splitlines(), staged.splitlines(), strict=False) if a != b]
        assert len(changed) == 2 and all(c.startswith(("ExecStart=", "ExecReload=")) for c in changed)
        (units / src.name).write_text(staged)
    return units


def _verify(units: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_analyzer(), "verify", *[str(units / n) for n in names]], cwd=units,
                          capture_output=True, text=True, timeout=120)


def _about(result: subprocess.CompletedProcess[str], *words: str) -> list[str]:
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if any(w in line for w in words)]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    _analyzer()
    units = _stage(tmp_path)
    result = _verify(units, "reelwatch.service", "reelwatch@demo.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _about(result, "reelwatch") == []


def test_documented_drop_in_verifies(tmp_path: Path) -> None:
    _analyzer()
    readme = (UNITS / "README.md").read_text()
    block = readme.split("<!-- drop-in:start -->")[1].split("<!-- drop-in:end -->")[0]
    drop_in = block.split("```ini")[1].split("```")[0]
    units = _stage(tmp_path)
    (units / "reelwatch@demo.service.d").mkdir()
    (units / "reelwatch@demo.service.d" / "site.conf").write_text(drop_in)
    result = _verify(units, "reelwatch@demo.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _about(result, "reelwatch", "site.conf") == []


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The no-warnings assertion above can fail: a misspelt directive is reported."""
    _analyzer()
    units = _stage(tmp_path)
    (units / "reelwatch@demo.service.d").mkdir()
    (units / "reelwatch@demo.service.d" / "typo.conf").write_text("[Service]\nProtectSytem=strict\n")
    result = _verify(units, "reelwatch@demo.service")
    assert any("ProtectSytem" in line for line in _about(result, "typo.conf"))


def test_rehash_units_verify_and_share_the_daemons_user(tmp_path: Path) -> None:
    for name in ("reelwatch-rehash.service", "reelwatch-rehash@.service"):
        text = (UNITS / name).read_text()
        assert "User=reelwatch" in text and "Type=oneshot" in text and "rehash --config" in text
        assert "NoNewPrivileges=yes" in text and "CapabilityBoundingSet=\n" in text
    for name in ("reelwatch.service", "reelwatch@.service"):
        assert "User=reelwatch" in (UNITS / name).read_text()
    _analyzer()
    units = tmp_path / "units"
    units.mkdir()
    binary = _binary(tmp_path)
    for name in ("reelwatch-rehash.service", "reelwatch-rehash@.service", "reelwatch-rehash.timer",
                 "reelwatch-rehash@.timer"):
        (units / name).write_text((UNITS / name).read_text().replace(DEPLOYED_BINARY, binary))
    (units / "reelwatch-rehash@demo.timer").write_text((UNITS / "reelwatch-rehash@.timer").read_text())
    result = _verify(units, "reelwatch-rehash.service", "reelwatch-rehash@demo.service",
                     "reelwatch-rehash.timer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _about(result, "reelwatch") == []


def test_systemd_analyze_security_scores_what_the_docs_say(tmp_path: Path) -> None:
    """The exposure score quoted in docs/deploy.md and in the units is measured, not remembered."""
    tool = _analyzer()
    units = _stage(tmp_path)
    (units / "reelwatch@demo.service").write_text((units / "reelwatch@.service").read_text())
    result = subprocess.run([tool, "security", "--offline=true", str(units / "reelwatch.service"),
                             str(units / "reelwatch@demo.service")], cwd=units, capture_output=True, text=True,
                            timeout=120)
    if "offline" in result.stderr and result.returncode != 0:
        pytest.skip(f"this systemd-analyze cannot score unit files offline: {result.stderr.strip()[:200]}")
    scores = dict(re.findall(r"Overall exposure level for (\S+): (\d+\.\d+)", result.stdout + result.stderr))
    assert set(scores) == {"reelwatch.service", "reelwatch@demo.service"}, result.stdout + result.stderr
    docs = (ROOT / "docs" / "deploy.md").read_text()
    claimed = re.findall(r"rates the unit\s+(\d+\.\d+)", docs)
    assert claimed and set(claimed) == set(scores.values()), (claimed, scores)
    for path in (PLAIN, TEMPLATE):
        assert f"systemd-analyze security: {claimed[0]}" in path.read_text()
