"""The public plugin API: the shipped plugins use nothing else, every hook and public name is
documented, facts read with units on real media, pluggy wrappers behave as pluggy's do, and the
README's example plugin says who it affects and how."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest

from reelwatch import api
from reelwatch.core.manager import PluginManager
from reelwatch.core.model import Asset, Facts, Finding, Message, Notice, Severity
from reelwatch.notify.render import render

from conftest import ROOT, reelwatch, write_config

PLUGINS = ROOT / "plugins"
API_MODULES = ["reelwatch.api", "reelwatch.api.media", "reelwatch.api.sequences", "reelwatch.api.naming",
               "reelwatch.api.spec", "reelwatch.api.integrity", "reelwatch.api.mirrors"]


# -- the shipped plugins use the public API only ---------------------------------------------------

def _callee(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _reelwatch_imports(file: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of reelwatch in a plugin file, relative ones included."""
    out = []
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "reelwatch"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append((node.lineno, "." * node.level + (node.module or "")))
            elif (node.module or "").split(".")[0] == "reelwatch":
                out.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Call) and _callee(node) in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("reelwatch"):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def test_every_shipped_plugin_imports_reelwatch_only_through_the_public_api() -> None:
    files = sorted(PLUGINS.glob("*.py"))
    assert len(files) >= 9
    private = [f"{file.name}:{line}: {module}" for file in files for line, module in _reelwatch_imports(file)
               if module != "reelwatch.api" and not module.startswith("reelwatch.api.")]
    assert private == [], "shipped plugins must import reelwatch only from reelwatch.api:\n" + "\n".join(private)


def test_the_import_check_sees_a_private_import(tmp_path: Path) -> None:
    # the AST check above must be able to fail: it sees each way of reaching past the API
    probe = tmp_path / "plugin.py"
    probe.write_text("import reelwatch.core.model\nfrom reelwatch.core.globs import applies\n"
                     "from reelwatch import Asset\nfrom . import x\nfrom reelwatch.api import hookimpl\n"
                     "importlib.import_module('reelwatch.state.store')\n")
    found = [m for _, m in _reelwatch_imports(probe)]
    assert found == ["reelwatch.core.model", "reelwatch.core.globs", "reelwatch", ".", "reelwatch.api",
                     "reelwatch.state.store"]


# -- documentation ---------------------------------------------------------------------------------

def _attribute_docs(module: object) -> set[str]:
    """Names assigned at module level that a string literal right after documents."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    out = set()
    for first, second in zip(tree.body, tree.body[1:], strict=False):
        if isinstance(first, ast.Assign | ast.AnnAssign) and isinstance(second, ast.Expr) \
                and isinstance(second.value, ast.Constant) and isinstance(second.value.value, str):
            targets = first.targets if isinstance(first, ast.Assign) else [first.target]
            out.update(t.id for t in targets if isinstance(t, ast.Name))
    return out


def _own_doc(obj: object) -> str:
    if inspect.isclass(obj):
        return (vars(obj).get("__doc__") or "").strip()
    if inspect.isfunction(obj) or inspect.ismodule(obj) or inspect.isbuiltin(obj):
        return (obj.__doc__ or "").strip()
    return ""


@pytest.mark.parametrize("name", API_MODULES)
def test_every_public_name_of_the_api_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no module docstring"
    documented = _attribute_docs(module)
    public = module.__all__
    assert sorted(public) == sorted(set(public)) and all(hasattr(module, n) for n in public)
    missing = [n for n in public if n not in documented and not _own_doc(getattr(module, n))]
    assert missing == [], f"{name}: public names without a docstring: {missing}"


def test_every_public_member_of_the_values_has_a_docstring() -> None:
    """Methods, properties and dataclass fields of the values in :mod:`reelwatch.api` (those of the
    core and the API itself; the family engines' classes are documented by their own packages)."""
    missing = []
    for name in api.__all__:
        cls = getattr(api, name)
        if not inspect.isclass(cls) or not cls.__module__.startswith(("reelwatch.core", "reelwatch.api")):
            continue
        documented = _class_attribute_docs(cls)
        for member, value in vars(cls).items():
            if member.startswith("_"):
                continue
            function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if inspect.isfunction(function) and not (function.__doc__ or "").strip():
                missing.append(f"{name}.{member}")
        for field in getattr(cls, "__dataclass_fields__", {}):
            if field not in documented:
                missing.append(f"{name}.{field}")
    assert missing == [], f"undocumented: {missing}"


def _class_attribute_docs(cls: type) -> set[str]:
    """Fields of a class body that a string literal right after documents."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))  # type: ignore[arg-type]
    body = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__).body
    return {first.target.id for first, second in zip(body, body[1:], strict=False)
            if isinstance(first, ast.AnnAssign) and isinstance(first.target, ast.Name)
            and isinstance(second, ast.Expr) and isinstance(second.value, ast.Constant)
            and isinstance(second.value.value, str)}


def test_every_hook_is_documented_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    headings = set(re.findall(r"^### `(\w+)\(", guide, re.M))
    hooks = set(PluginManager().hook_names())
    assert hooks - headings == set(), f"hooks missing from docs/plugins.md: {sorted(hooks - headings)}"
    assert headings - hooks == set(), f"docs/plugins.md documents hooks that do not exist: {sorted(headings - hooks)}"
    from reelwatch.core import hookspecs
    for hook in hooks:
        assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"hookspec {hook} has no docstring"


def test_the_guide_documents_every_name_of_the_main_api_module() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    missing = [n for n in api.__all__ if f"`{n}" not in guide]
    assert missing == [], f"docs/plugins.md does not mention: {missing}"


# -- pluggy wrappers around the isolated checks ----------------------------------------------------

GOOD = ("from reelwatch.api import Finding, Severity, hookimpl\n\n\n@hookimpl\ndef check(asset):\n"
        "    return [Finding('facility.seen', Severity.ERROR, asset, 'facility saw it', owner='dit')]\n")
BROKEN = "from reelwatch.api import hookimpl\n\n\n@hookimpl\ndef check(asset):\n    raise KeyError('boom')\n"


def _pm_with(tmp_path: Path, **files: str) -> PluginManager:
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    pm = PluginManager()
    pm.load(dirs=[tmp_path], shipped=False, entry_points=False)
    assert pm.load_errors == []
    return pm


def _check(pm: PluginManager) -> dict[str, Finding]:
    found = pm.check(Asset("v", "/r", "a.mov", 1, 1), Facts(kind="media"), None, None)
    return {f.rule: f for f in found}


@pytest.mark.parametrize("returns", ["(r for r in results if r)", "filter(None, results)",
                                     "iter(results)", "(f for r in results for f in r)"])
def test_a_wrapper_may_return_any_iterable_of_results_as_in_pluggy(tmp_path: Path, returns: str) -> None:
    pm = _pm_with(tmp_path, a_rule=GOOD, b_broken=BROKEN, z_wrapper=(
        f"from reelwatch.api import hookimpl\n@hookimpl(wrapper=True)\ndef check(asset, facts):\n"
        f"    results = yield\n    return {returns}\n"))
    rules = _check(pm)
    assert set(rules) == {"facility.seen", "reelwatch.plugin_error"}, [f.message for f in rules.values()]
    assert rules["reelwatch.plugin_error"].plugin == "b_broken"  # the raising plugin, isolated, and only it
    assert rules["facility.seen"].plugin == "a_rule"


def test_a_wrapper_returning_something_that_is_not_results_is_its_own_error(tmp_path: Path) -> None:
    pm = _pm_with(tmp_path, a_rule=GOOD, z_wrapper=(
        "from reelwatch.api import hookimpl\n@hookimpl(wrapper=True)\ndef check(asset):\n"
        "    results = yield\n    return 42\n"))
    rules = _check(pm)
    assert set(rules) == {"facility.seen", "reelwatch.plugin_error"}
    error = rules["reelwatch.plugin_error"]
    assert error.plugin == "z_wrapper" and "the wrapper returned int" in error.message
    assert "z_wrapper.py:3)" in error.message and "manager.py" not in error.message


def test_a_timing_wrapper_loaded_from_the_config_runs_around_the_real_checks(tmp_path: Path, media) -> None:
    folder = tmp_path / "facility_plugins"
    folder.mkdir()
    (folder / "timing.py").write_text(
        "import time\nfrom reelwatch.api import hookimpl\n\nSEEN = []\n\n\n"
        "@hookimpl(hookwrapper=True)\ndef batch_done(assets):\n    yield\n\n\n"
        "@hookimpl(wrapper=True)\ndef check(asset, facts):\n    start = time.monotonic()\n"
        "    try:\n        return (r for r in (yield) if r)\n    finally:\n"
        "        SEEN.append(time.monotonic() - start)\n")
    (folder / "temp_names.py").write_text(GOOD.replace("'facility saw it'", "f'saw {asset.name}'"))
    config = write_config(tmp_path, extra=f'[plugins]\ndirs = ["{folder}"]\n')
    clip = tmp_path / "ingest" / media["prores_2398"].name
    clip.write_bytes(media["prores_2398"].read_bytes())
    out = reelwatch("check", "--config", str(config), "--format", "json", str(clip))
    report = json.loads(out.stdout)
    rules = [f["rule"] for f in report["findings"]]
    assert "reelwatch.plugin_error" not in rules, report["findings"]
    assert "facility.seen" in rules and out.returncode == 1


# -- the README's example plugin -------------------------------------------------------------------

def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Plugins", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_example_plugin_tells_each_affected_role_how(tmp_path: Path) -> None:
    pm = _pm_with(tmp_path, facility=_readme_example())
    asset = Asset("delivery", "/mnt/delivery", "TEMP_AGM_0420_comp_v003.exr", 1, 1)
    found = pm.check(asset, Facts(kind="media"), None, None)
    assert len(found) == 1
    f = found[0]
    assert f.owner and f.impacts and f.impact and f.expected and f.fix
    for role in f.impacts:
        text = render(Message(role=role, production="P", notices=(Notice("affects", {**f.to_dict(), "id": 7}),))).text
        assert f"Affects you: {f.impact}" in text
        assert "marked as affecting" not in text


def test_an_affects_notice_without_impact_words_says_so_plainly() -> None:
    f = Finding("facility.temp_name", Severity.WARNING, Asset("d", "/d", "TEMP_x.exr", 1, 1), "temporary render",
                owner="vfx", impacts=("editorial",))
    notice = Notice("affects", {**f.to_dict(), "id": 7})
    text = render(Message(role="editorial", production="P", notices=(notice,))).text
    assert "it is marked as affecting" not in text
    assert "the rule lists editorial among the roles this affects, without saying how" in text


# -- the worked example of docs/plugins.md is a test -------------------------------------------------

def _guide_block(label: str) -> str:
    """The code block that follows ``<!-- worked example: LABEL -->`` in docs/plugins.md."""
    guide = (ROOT / "docs" / "plugins.md").read_text()
    found = re.search(rf"<!-- worked example: {re.escape(label)} -->\n```\w*\n(.*?)```", guide, re.S)
    assert found, f"docs/plugins.md has no worked example {label!r}"
    return found.group(1)


def _facility(tmp_path: Path) -> tuple[Path, Path]:
    """The guide's plugin in a facility's plugin folder, and a production config naming the folder
    and the guide's ``[rules.delivery_audio]``, with an ingest and a delivery volume."""
    folder = tmp_path / "srv" / "plugins"
    folder.mkdir(parents=True)
    (folder / "delivery_audio.py").write_text(_guide_block("delivery_audio.py"))
    config_text = _guide_block("config").replace("/srv/reelwatch/plugins", str(folder))
    config = write_config(tmp_path, volumes={"ingest": "dit", "delivery": "editorial"}, extra=config_text)
    return folder, config


def test_the_guides_worked_example_finds_wrong_delivery_audio_in_real_files(tmp_path: Path) -> None:
    from reelwatch.demo import mediagen
    _folder, config = _facility(tmp_path)
    delivery, ingest = tmp_path / "delivery", tmp_path / "ingest"
    mediagen.make_wav(delivery / "AGM_104_mix_v002.wav", rate=44100, bits=16, seconds=0.5)
    mediagen.make_wav(delivery / "AGM_104_mix_v003.wav", rate=48000, bits=24, seconds=0.5)
    mediagen.make_clip(delivery / "AGM_104_0420_comp_v003.mov", width=320, height=180, audio_rate=48000,
                       audio_bits=16)
    mediagen.make_wav(ingest / "S001T001.wav", rate=44100, bits=16, seconds=0.5)  # not a delivery: not judged

    out = reelwatch("check", "--config", str(config), "--format", "json", str(delivery), str(ingest))
    report = json.loads(out.stdout)
    assert report["checked"] == 4 and out.returncode == 1, (out.stderr, report)
    found = {f["relpath"]: f for f in report["findings"] if f["rule"] == "facility.delivery_audio"}
    assert sorted(found) == ["AGM_104_0420_comp_v003.mov", "AGM_104_mix_v002.wav"]
    mix = found["AGM_104_mix_v002.wav"]
    assert mix["message"] == "audio is 44.1 kHz 16-bit; deliveries must be 48 kHz 24-bit"
    assert found["AGM_104_0420_comp_v003.mov"]["message"] == \
        "audio is 48 kHz 16-bit; deliveries must be 48 kHz 24-bit"
    assert mix["severity"] == "error" and mix["owner"] == "vfx" and mix["impacts"] == ["sound", "editorial"]
    assert mix["plugin"] == "delivery_audio" and mix["expected"] == "every audio track at 48 kHz, 24-bit"
    assert "reelwatch.plugin_error" not in {f["rule"] for f in report["findings"]}

    # what the guide shows VFX and sound are told, from the finding this run produced
    where = Asset("delivery", "/srv/delivery", mix["relpath"], 1, 1)
    finding = Finding("facility.delivery_audio", Severity.ERROR, where, mix["message"], owner=mix["owner"],
                      impacts=tuple(mix["impacts"]), expected=mix["expected"], impact=mix["impact"], fix=mix["fix"])
    for role, kind in (("vfx", "new"), ("sound", "affects")):
        notice = Notice(kind, {**finding.to_dict(), "id": 12})
        text = render(Message(role=role, production="Harbour Lights", notices=(notice,))).text
        shown = _guide_block(f"message to {role}")
        assert shown.strip() and shown in text, (role, text)


def test_the_guides_worked_example_section_is_validated_and_listed(tmp_path: Path) -> None:
    _folder, config = _facility(tmp_path)
    listed = reelwatch("plugins", "--config", str(config), env={**os.environ, "COLUMNS": "400"})
    assert listed.returncode == 0, listed.stderr
    assert "facility.delivery_audio" in listed.stdout and "delivery_audio" in listed.stdout
    config.write_text(config.read_text().replace("sample_rate = 48000", 'sample_rate = "48k"'))
    bad = reelwatch("config", "validate", str(config))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert re.search(rf"{re.escape(str(config))}:\d+: rules\.delivery_audio\.sample_rate: .*'48k'", bad.stderr), \
        bad.stderr


def test_the_guides_unit_test_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _config = _facility(tmp_path)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(__import__("sys").modules, "delivery_audio", raising=False)
    namespace: dict[str, object] = {}
    exec(compile(_guide_block("unit test"), "docs/plugins.md", "exec"), namespace)  # noqa: S102
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert len(tests) == 1
    tests[0]()


# -- facts with units, on real media -----------------------------------------------------------------

def _facts(path: Path) -> Facts:
    from reelwatch.probe.worker import facts_for_file
    return Facts.from_mapping(facts_for_file(str(path)))


def test_media_reads_a_clip_with_units(tmp_path: Path) -> None:
    from reelwatch.demo import mediagen
    clip = mediagen.make_clip(tmp_path / "A002C006_141024_R2EC.mov", width=320, height=180, codec="prores_hq",
                              rate=Fraction(24000, 1001), frames=48, audio_rate=48000, audio_bits=24,
                              timecode="01:02:03:04")
    m = api.media(_facts(clip))
    assert m.kind == "media" and m.container == "MPEG-4" and not m.truncated
    assert m.frame_rate == Fraction(24000, 1001) and isinstance(m.frame_rate, Fraction)
    assert m.duration == pytest.approx(48 * 1001 / 24000, abs=0.01)  # seconds, not MediaInfo's ms
    assert m.size == clip.stat().st_size and m.bit_rate and m.bit_rate > 0
    assert (m.width, m.height) == (320, 180) and m.picture and m.picture.codec == "ProRes"
    assert m.bit_depth == 10 and "ProRes" in m.picture.bit_depth_note  # nominal: MOV stores none for ProRes
    assert m.picture.frame_count == 48 and m.picture.scan == "Progressive"
    assert [(s.sample_rate, s.bit_depth, s.channels) for s in m.sound] == [(48000, 24, 2)]
    assert m.timecode == "01:02:03:04" and "track" in m.timecode_source


def test_media_reads_a_broadcast_wav_and_says_unknown_as_none(tmp_path: Path, media) -> None:
    from reelwatch.demo import mediagen
    wav = mediagen.make_wav(tmp_path / "S001T001.wav", rate=44100, bits=16, channels=1, seconds=0.5)
    m = api.media(_facts(wav))
    assert m.picture is None and m.frame_rate is None and m.bit_depth is None and m.width is None
    assert m.duration == pytest.approx(0.5, abs=0.01)
    assert [(s.sample_rate, s.bit_depth, s.channels, s.codec) for s in m.sound] == [(44100, 16, 1, "PCM")]
    broken = api.media(_facts(media["junk"]))
    assert broken.duration is None and broken.frame_rate is None and broken.sound == ()
    truncated = api.media(_facts(media["truncated"]))
    assert truncated.truncated


def test_media_reads_an_image_sequence_from_its_first_frame(tmp_path: Path) -> None:
    from reelwatch.core.sequences import folder_assets
    from reelwatch.demo import mediagen
    from reelwatch.probe.worker import facts_for_sequence
    frames = mediagen.make_image_sequence(tmp_path, "plate", "dpx", 1001, 1004, width=256, height=144, bits=12)
    [asset] = folder_assets("v", str(tmp_path), "", None)[1]
    assert asset.sequence is not None
    m = api.media(Facts.from_mapping(facts_for_sequence(list(asset.member_paths()), list(asset.sequence.frame_sizes))))
    assert m.kind == "image_sequence" and (m.width, m.height, m.bit_depth) == (256, 144, 12)
    assert m.picture and m.picture.codec == "DPX" and m.sound == () and m.frame_rate is None
    assert m.size == frames[0].stat().st_size and asset.size == sum(f.stat().st_size for f in frames)


def test_media_never_guesses_a_rate_from_a_rounded_decimal() -> None:
    facts = Facts.from_mapping({"kind": "media", "general": {"duration": "1001"},
                                "video": [{"frame_rate": "23.98"}, ]})
    m = api.media(facts)
    assert m.frame_rate == Fraction(2398, 100) and m.frame_rate != Fraction(24000, 1001)
    assert m.duration == pytest.approx(1.001)


# -- docs the plugin author reads are true ---------------------------------------------------------

OWN_DOCS = [ROOT / "docs" / "plugins.md", ROOT / "docs" / "rules.md", ROOT / "README.md",
            *sorted(PLUGINS.glob("*.py")), *sorted((ROOT / "src" / "reelwatch" / "api").glob("*.py")),
            ROOT / "src" / "reelwatch" / "core" / "hookspecs.py", ROOT / "src" / "reelwatch" / "core" / "manager.py"]


def test_every_docs_path_named_for_plugin_authors_exists() -> None:
    named = {(file.name, ref) for file in OWN_DOCS for ref in re.findall(r"docs/[\w./-]+\.md", file.read_text())}
    missing = sorted(f"{file}: {ref}" for file, ref in named if not (ROOT / ref).is_file())
    assert missing == [], missing


def test_every_value_attribute_the_docs_name_exists() -> None:
    values = {n: getattr(api, n) for n in api.__all__ if inspect.isclass(getattr(api, n))}
    wrong = []
    for file in OWN_DOCS[:3]:
        for cls, attr in re.findall(r"`(\w+)\.(\w+)", file.read_text()):
            if cls in values and not hasattr(values[cls], attr) \
                    and attr not in getattr(values[cls], "__dataclass_fields__", {}) \
                    and attr not in getattr(values[cls], "model_fields", {}):
                wrong.append(f"{file.name}: {cls}.{attr}")
    assert wrong == [], wrong


def test_a_facility_plugin_loads_after_the_shipped_ones_and_is_asked_first(tmp_path: Path) -> None:
    (tmp_path / "facility.py").write_text(
        "from reelwatch.api import hookimpl\n@hookimpl\ndef ignore(volume, relpath):\n"
        "    return False if relpath.endswith('.DS_Store') else None\n")
    from reelwatch.builtin.ignore import IgnoreRules
    pm = PluginManager()
    pm.load(builtins=[("ignore", IgnoreRules())], dirs=[tmp_path], entry_points=False)
    assert pm.load_errors == []
    names = pm.plugin_names()
    assert names.index("facility") > max(names.index(n) for n in ("naming", "spec", "mirrors"))
    assert pm.ignore("ingest", "A002/.DS_Store") is False  # the builtin would ignore it; the facility insists
    assert pm.ignore("ingest", "A002/._clip.mov") is True


@pytest.mark.parametrize("where", ["hookspecs", "manager", "README.md", "docs/plugins.md"])
def test_every_statement_of_the_load_order_names_the_shipped_plugins_in_their_place(where: str) -> None:
    from reelwatch.core import hookspecs, manager
    text = {"hookspecs": hookspecs.__doc__, "manager": manager.__doc__}.get(where) or (ROOT / where).read_text()
    text = re.sub(r"\s+", " ", text)
    start = text.lower().index("load")
    order = re.search(r"builtin.*?plugins/.*?entry point.*?\[plugins\] dirs", text[start:], re.I)
    assert order, f"{where}: the load order must read builtins, shipped plugins/, entry points, [plugins] dirs"


def _absolute(file: Path, node: ast.ImportFrom, src: Path) -> str:
    """The absolute module name of a ``from ... import`` in a file under ``src`` (reelwatch/)."""
    if not node.level:
        return node.module or ""
    package = ["reelwatch", *file.parent.relative_to(src).parts]
    base = package[:len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def test_nothing_in_reelwatch_imports_its_public_api() -> None:
    """reelwatch.api is the outside face: it may import any package, and none imports it back."""
    src = ROOT / "src" / "reelwatch"
    inward = []
    for file in sorted(src.rglob("*.py")):
        if file.parent == src / "api":
            continue
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(file, node, src)
                names = [module] + ([f"{module}.{a.name}" for a in node.names] if module == "reelwatch" else [])
            else:
                continue
            if any(n == "reelwatch.api" or n.startswith("reelwatch.api.") for n in names):
                inward.append(f"{file.relative_to(ROOT)}:{node.lineno}")
    assert inward == [], inward


def test_the_public_api_imports_nothing_above_the_engines() -> None:
    """A plugin that imports the API does not load the pipeline, the daemon or the command line."""
    src = ROOT / "src" / "reelwatch"
    allowed = ("reelwatch.core", "reelwatch.integrity", "reelwatch.naming", "reelwatch.spec", "reelwatch.state",
               "reelwatch.api")
    upward = [f"{file.name}:{node.lineno} {_absolute(file, node, src)}"
              for file in sorted((src / "api").glob("*.py"))
              for node in ast.walk(ast.parse(file.read_text())) if isinstance(node, ast.ImportFrom)
              and _absolute(file, node, src).startswith("reelwatch")
              and not _absolute(file, node, src).startswith(allowed)]
    assert upward == [], upward
