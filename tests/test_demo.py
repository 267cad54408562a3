"""`reelwatch demo`, the newcomer's first command: no network, no config, under a minute."""

from __future__ import annotations

import json
import time

from conftest import reelwatch


def test_demo_runs_end_to_end_and_every_rule_family_speaks(tmp_path):
    started = time.monotonic()
    out = reelwatch("demo", "--dir", str(tmp_path / "demo"), timeout=120)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stdout + out.stderr
    assert took < 60
    assert "message(s) delivered" in out.stdout
    findings = json.loads(reelwatch("findings", "--config", str(tmp_path / "demo" / "production.toml"),
                                    "--format", "json").stdout)
    rules = {f["rule"] for f in findings}
    assert {"sanity.truncated", "sanity.empty", "spec.frame_rate", "naming.field", "version.gap",
            "sanity.sequence_gap"} <= rules
    frame_rate = next(f for f in findings if f["rule"] == "spec.frame_rate")
    assert frame_rate["owner"] == "dit" and {"editorial", "sound", "vfx"} <= set(frame_rate["roles"])
