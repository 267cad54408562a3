"""Technical spec profiles and imported MediaConch policies (rule ids ``spec.*``).

Config lives under ``[rules.spec]`` (see ``reelwatch.spec.profiles.SpecConfig`` and docs/rules.md).
Each asset gets the profile of the first ``[[rules.spec.apply]]`` entry that covers it; its
properties are checked over the probed facts, and its ``policy`` (a MediaConch XML file) is
evaluated per file, or per sampled frame of an image sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from reelwatch.api import Asset, Facts, Finding, RuleInfo, Severity, did_you_mean, hookimpl
from reelwatch.api.spec import (FAMILIES, Outcome, Policy, PolicyError, PolicyResult, Scope, SpecConfig, check_profile,
                                describe, evaluate, file_fields, scope_for)

_SEVERITY = {Outcome.FAIL: Severity.ERROR, Outcome.WARN: Severity.WARNING, Outcome.INFO: Severity.INFO}
_WORST = [Outcome.FAIL, Outcome.WARN, Outcome.INFO, Outcome.UNKNOWN, Outcome.PASS]
MAX_LISTED = 3
log = structlog.get_logger("reelwatch.spec")


@hookimpl
def config_sections() -> Mapping[str, Any]:
    return {"spec": SpecConfig}


@hookimpl
def configure(config: Any) -> None:
    """Warn at start-up and reload about what the section's schema cannot see."""
    for problem in config_problems(config):
        log.warning("spec_config_problem", problem=problem)




def config_problems(config: Any) -> list[str]:
    """Apply entries naming volumes the config lacks, and policy files that cannot be used."""
    section = config.rules.get("spec")
    if not isinstance(section, SpecConfig):
        return []
    volumes = [v.name for v in config.volumes]
    problems = [f"rules.spec.apply[{i}].volumes: no volume named {name!r}{did_you_mean(name, volumes)}; "
                f"defined: {', '.join(volumes)}"
                for i, entry in enumerate(section.apply) for name in entry.volumes if volumes and name not in volumes]
    for name, profile in section.profiles.items():
        if profile.policy:
            policy = section.policy(config.resolve(profile.policy))
            if isinstance(policy, PolicyError):
                problems.append(f"rules.spec.profiles.{name}.policy: {policy}")
    return problems


@hookimpl
def rules() -> Iterable[RuleInfo]:
    return [RuleInfo(id=f.rule, summary=f.summary, severity=f.severity,
                     owner="supervisor" if f.rule == "spec.policy_unsupported" else "dit",
                     impacts=f.impacts, example=f.example) for f in FAMILIES.values()]


@hookimpl
def check(asset: Asset, facts: Facts, config: Any) -> list[Finding] | None:
    scope = scope_for(asset, config)
    if scope is None or not facts.is_media:
        return None
    findings = check_profile(scope, facts)
    if scope.profile.policy:
        findings += policy_findings(scope, facts, config)
    return findings


def _views(asset: Asset, facts: Facts) -> list[tuple[str, Facts, dict[str, str]]]:
    """What MediaConch would see, file by file: each sampled frame of a sequence, else the file
    (its facts, and the name and date fields MediaInfo takes from the file itself)."""
    if facts.kind != "image_sequence" or not facts.image:
        return [("", facts, file_fields(asset.path, asset.mtime_ns))]
    frames = asset.sequence.frames if asset.sequence else ()
    paths = asset.member_paths()
    out = []
    for track in facts.image:
        idx = track.get("frame_index")
        known = isinstance(idx, int) and 0 <= idx < len(frames) and idx < len(paths)
        view = Facts(kind="media", general=facts.general, image=(track,), other=facts.other)
        out.append((f"frame {frames[idx]}" if known else "a frame", view,
                    file_fields(paths[idx] if known else asset.path, asset.mtime_ns)))
    return out


def policy_findings(scope: Scope, facts: Facts, config: Any) -> list[Finding]:
    """Evaluate the profile's MediaConch policy: one ``spec.policy`` finding when it does not
    pass, one ``spec.policy_unsupported`` per rule that could not be evaluated."""
    path = config.resolve(scope.profile.policy)
    policy = config.rules["spec"].policy(path)
    if isinstance(policy, PolicyError):
        return [scope.finding("policy_unsupported", f"the MediaConch policy of profile {scope.name!r} could not "
                              f"be used, so none of its rules were checked: {policy}", "a readable MediaConch "
                              "policy file", severity=Severity.WARNING, fix="Fix the 'policy' path of the profile "
                              "or the policy XML (open it in MediaConch to validate it)")]
    results = [(label, evaluate(policy, view, fields)) for label, view, fields in _views(scope.asset, facts)]
    outcome = min((r.outcome for _, r in results), key=_WORST.index)
    out = _unknown_findings(scope, policy, results, outcome)
    if outcome in _SEVERITY:
        out.insert(0, _failure(scope, policy, results, outcome))
    return out


def _failure(scope: Scope, policy: Policy, results: list[tuple[str, PolicyResult]], outcome: Outcome) -> Finding:
    failing = [(label, r) for label, r in results if r.outcome is outcome]
    label, first = failing[0]
    rules = first.failed_rules()
    words = "; ".join(describe(r) for r in rules[:MAX_LISTED])
    more = f" (and {len(rules) - MAX_LISTED} more)" if len(rules) > MAX_LISTED else ""
    where = ""
    if label:
        frames = [x for x, _ in failing]
        where = f" in {', '.join(frames[:4])}{f' and {len(frames) - 4} more' if len(frames) > 4 else ''}"
    verb = {Outcome.FAIL: "fails", Outcome.WARN: "gets a warning from", Outcome.INFO: "gets a notice from"}[outcome]
    expected = f"passes MediaConch policy {policy.name!r}"
    return scope.finding(
        "policy", f"{verb} MediaConch policy {policy.name!r}{where}: {words}{more}", expected,
        severity=_SEVERITY[outcome],
        details={"policy": policy.name, "outcome": outcome.value, "frames": [x for x, _ in failing if x],
                 "rules": [{"name": r.rule.name, "field": r.rule.field, "tracktype": r.rule.tracktype,
                            "operator": r.rule.operator, "requested": r.rule.requested, "actual": list(r.actual),
                            "outcome": r.outcome.value} for r in rules]})


def _unknown_findings(scope: Scope, policy: Policy, results: list[tuple[str, PolicyResult]],
                      outcome: Outcome) -> list[Finding]:
    seen: dict[tuple[str, str], Any] = {}
    for _, result in results:
        for r in result.unknown_rules():
            seen.setdefault((r.rule.name, r.reason), r)
    verdict = " so the policy's verdict on this file is unknown" if outcome is Outcome.UNKNOWN else ""
    return [scope.finding("policy_unsupported", f"policy {policy.name!r} rule {name!r} was not checked: {reason}"
                          + (f";{verdict}" if verdict else ""), "every policy rule evaluated",
                          details={"policy": policy.name, "rule": name, "reason": reason,
                                   "field": r.rule.field, "operator": r.rule.operator})
            for (name, reason), r in seen.items()]
