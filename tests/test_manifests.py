"""Legacy checksum manifests (reelwatch.integrity.manifests) and the integrity plugin's use of them.

Lines are written by the real tools where they are installed (md5sum, sha1sum, xxhsum) and by
hand in the formats of the others (md5deep, ``md5 -r``, Netflix checksum.txt); the corpus adds
RAWcooked's md5 manifests with wrong, missing and unlisted entries and MHL v1 files written by
ShotPut Pro, YoYotta and Hedge.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import xxhash

from reelwatch.core.config import build_config
from reelwatch.integrity.hashing import hash_file
from reelwatch.core.manager import load_plugin_file
from reelwatch.integrity.manifests import ManifestError, is_manifest_name, parse_lines, read_manifest, verify_manifest
from reelwatch.checking.pipeline import file_asset
from reelwatch.state.store import Store, StoreHistory

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PLUGIN = ROOT / "plugins" / "integrity.py"


def corpus(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small delivery: two clips, a sidecar in a sub-folder, a name with spaces."""
    root = tmp_path / "delivery"
    (root / "sub").mkdir(parents=True)
    (root / "A001C001.mov").write_bytes(b"clip one" * 1000)
    (root / "A001C002.mov").write_bytes(b"clip two" * 1000)
    (root / "sub" / "notes file.txt").write_text("notes\n")
    return root


def kinds(problems: list[Any]) -> list[tuple[str, str]]:
    return sorted((p.kind, p.path) for p in problems)


# -- line formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd,name,algo", [
    (["md5sum"], "sum.md5", "md5"), (["md5sum", "--tag"], "tag.md5", "md5"), (["sha1sum"], "sum.sha1", "sha1"),
    (["sha256sum"], "sum.sha256", "sha256"), (["xxhsum", "-H0"], "h0.xxhash", "xxh32"),
    (["xxhsum", "-H1"], "h1.xxhash", "xxh64"), (["xxhsum", "-H2"], "h2.xxhash", "xxh128"),
    (["xxhsum", "-H3"], "h3.xxhash", "xxh3"), (["xxhsum", "--tag", "-H2"], "tag.xxhash", "xxh128"),
    (["xxhsum", "--tag", "-H1"], "tag64.xxhash", "xxh64"),
])
def test_lists_written_by_the_real_tools(folder: Path, cmd: list[str], name: str, algo: str) -> None:
    if not shutil.which(cmd[0]):
        pytest.skip(f"{cmd[0]} not installed")
    files = ["A001C001.mov", "A001C002.mov", "sub/notes file.txt"]
    out = subprocess.run([*cmd, *files], cwd=folder, check=True, capture_output=True, text=True).stdout
    (folder / name).write_text(out)
    m = read_manifest(folder / name)
    assert [e.path for e in m.entries] == files and m.bad_lines == ()
    assert all(e.hashes == {algo: hash_file(folder / e.path, algo)} for e in m.entries)
    assert m.recursive and verify_manifest(m) == []


def test_hand_written_formats(tmp_path: Path) -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    text = "\n".join([
        f"{md5}  DPX/000001.dpx",                 # md5deep / GNU text mode
        f"{md5} *DPX/000002.dpx",                 # GNU binary mode
        f"{md5} 000003.dpx",                      # md5 -r
        f"MD5 (name (with) parens.wav) = {md5}",  # BSD
        f"\\{md5}  back\\\\slash\\nnewline.txt",   # GNU escapes
        f"XXH3_{xxhash.xxh3_64(b'x').hexdigest()}  new_xxhsum.bin",
        f"SHA256 (s.bin) = {hashlib.sha256(b'x').hexdigest()}",
        "# comment", "", "not a checksum line",
    ])
    m = parse_lines(tmp_path / "mixed.md5", text)
    got = {e.path: e.hashes for e in m.entries}
    assert got["DPX/000001.dpx"] == got["DPX/000002.dpx"] == got["000003.dpx"] == {"md5": md5}
    assert got["name (with) parens.wav"] == {"md5": md5}
    assert got["back\\slash\nnewline.txt"] == {"md5": md5}
    assert got["new_xxhsum.bin"] == {"xxh3": xxhash.xxh3_64(b"x").hexdigest()}
    assert got["s.bin"] == {"sha256": hashlib.sha256(b"x").hexdigest()}
    assert m.bad_lines == (10,)


def test_netflix_checksum_txt_and_windows_paths(tmp_path: Path) -> None:
    md5 = hashlib.md5(b"frame").hexdigest()
    text = (f"show.000001.tiff,{md5}\r\nshow.000002.tiff\t{md5.upper()}\r\n"
            f"{md5}  show.000003.tiff\r\n{md5} *reel1\\show.000004.tiff\r\n")
    m = parse_lines(tmp_path / "checksum.txt", text)
    assert [(e.path, e.hashes) for e in m.entries] == [
        ("show.000001.tiff", {"md5": md5}), ("show.000002.tiff", {"md5": md5}),
        ("show.000003.tiff", {"md5": md5}), ("reel1/show.000004.tiff", {"md5": md5})]
    assert is_manifest_name("checksum.txt") and is_manifest_name("A001.XXHASH") and not is_manifest_name("notes.txt")


def test_verify_reports_wrong_missing_and_unlisted(folder: Path) -> None:
    lines = [f"{hash_file(folder / n, 'md5')}  {n}" for n in ("A001C001.mov", "A001C002.mov")]
    lines.append(f"{hashlib.md5(b'gone').hexdigest()}  A001C003.mov")
    (folder / "flat.md5").write_text("\n".join(lines) + "\n")
    (folder / "A001C002.mov").write_bytes(b"changed")
    (folder / "A001C004.mov").write_bytes(b"late")
    (folder / ".DS_Store").write_bytes(b"litter")
    (folder / "other.sha1").write_text("")
    m = read_manifest(folder / "flat.md5")
    assert not m.recursive  # flat: the sub-folder is not its business
    assert kinds(verify_manifest(m)) == [("mismatch", "A001C002.mov"), ("missing", "A001C003.mov"),
                                         ("unlisted", "A001C004.mov")]
    [p] = verify_manifest(m, unlisted=False, skip_hashes=frozenset({"A001C001.mov"}))[:1]
    assert (p.kind, p.algo, p.expected) == ("mismatch", "md5", hashlib.md5(b"clip two" * 1000).hexdigest())
    assert kinds(verify_manifest(m, algorithms=("xxh128",), unlisted=False)) == [("missing", "A001C003.mov")]


def test_hostile_entries_are_never_read(folder: Path) -> None:
    md5 = hashlib.md5(b"").hexdigest()
    (folder / "evil.md5").write_text(f"{md5}  /dev/zero\n{md5}  ../../../etc/hostname\n{md5}  /proc/kcore\n"
                                     f"{hash_file(folder / 'A001C001.mov', 'md5')}  A001C001.mov\n")
    m = read_manifest(folder / "evil.md5")
    problems = verify_manifest(m, within=folder, unlisted=False)
    assert kinds(problems) == [("missing", "../../../etc/hostname"), ("missing", "/dev/zero"),
                               ("missing", "/proc/kcore")]
    assert {p.detail for p in problems} == {"outside the volume"}
    (folder / "dev.md5").write_text(f"{md5}  /dev/zero\n")
    [dev] = verify_manifest(read_manifest(folder / "dev.md5"), unlisted=False)  # unfenced: a device is not read
    assert (dev.kind, dev.detail) == ("mismatch", "not a regular file")


def test_not_manifests(tmp_path: Path) -> None:
    v2 = tmp_path / "0001_A002R2EC_2020-01-16_091500Z.mhl"
    v2.write_text('<?xml version="1.0"?><hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"></hashlist>')
    with pytest.raises(ManifestError, match="not an MHL v1"):
        read_manifest(v2)
    (tmp_path / "bin.md5").write_bytes(b"\0\1\2" * 100)
    with pytest.raises(ManifestError, match="binary"):
        read_manifest(tmp_path / "bin.md5")
    (tmp_path / "broken.mhl").write_text("<hashlist version='1.1'><hash>")
    with pytest.raises(ManifestError, match="not readable XML"):
        read_manifest(tmp_path / "broken.mhl")
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(tmp_path / "absent.md5")


# -- the corpus -----------------------------------------------------------------------------------

RAWCOOKED = ("media", "rawcooked_regression")


@pytest.mark.parametrize("rel,expected", [
    ("BuggyPackages/HashIssues/Hash_MD5/deep.md5", [
        ("mismatch", "image/0.txt"), ("mismatch", "image/000001.dpx"), ("missing", "image/000005.dpx"),
        ("unlisted", "image/000002.dpx")]),
    *[(f"BuggyPackages/HashIssues/Hash_MD5/audio/{n}", [("missing", "audio2.wav"), ("unlisted", "audio1.wav")])
      for n in ("sum.md5", "bsd.md5", "bsdr.md5")],
    *[(f"BuggyPackages/HashIssues/Hash_MD5/image/{n}", [
        ("mismatch", "0.txt"), ("mismatch", "000001.dpx"), ("missing", "000005.dpx"), ("unlisted", "000002.dpx")])
      for n in ("sum.md5", "bsd.md5", "bsdr.md5")],
    ("Features/HashCheck/HashTest_FileHash_Dir/md5deep.md5", []),
    ("Features/HashCheck/HashTest_BuggyFileHash_Dir/md5deep.md5", [("mismatch", "DPX/000002.dpx")]),
])
def test_rawcooked_manifests(rel: str, expected: list[tuple[str, str]]) -> None:
    m = read_manifest(corpus(*RAWCOOKED, rel))  # verification only reads
    assert m.bad_lines == () and len(m.entries) >= 2
    assert kinds(verify_manifest(m)) == expected


def test_mhl_v1_from_three_tools_read_tolerantly() -> None:
    samples = corpus("mhl", "mhl_v1_mhl-compare", "samples")
    counts = {p.name: len(read_manifest(p).entries) for p in sorted(samples.glob("*.mhl"))}
    assert counts == {"a01.mhl": 22, "a02.mhl": 20, "a03.mhl": 20, "b01.mhl": 2, "b02.mhl": 2, "c01.mhl": 270,
                      "c02.mhl": 52, "d01.mhl": 3, "d02.mhl": 1}
    shotput = read_manifest(samples / "c01.mhl").lookup("102EOS5D/SEB_3719.CR2")
    hedge = read_manifest(samples / "c02.mhl").lookup("SEB_3719.CR2")
    assert shotput and hedge and shotput.size == hedge.size == 32825352
    # Hedge writes <xxhash64> little-endian; ShotPut writes <xxhash64be>: the same XXH64.
    assert hedge.hashes["xxh64"] == shotput.hashes["xxh64"] == "5866e7b8f057d32f"
    assert hedge.pick() == ("xxh64", "5866e7b8f057d32f")  # the hand-spoiled md5 is passed over
    yoyotta = read_manifest(samples / "a01.mhl").entries[0]
    assert yoyotta.hashes == {"md5": "4e8973c2fb9cc94a0c2750b72d62700f", "xxh64": "c4f481693fd70394"}


def test_mhl_v1_verification_on_real_files(tmp_path: Path) -> None:
    card = tmp_path / "A005"
    (card / "DCIM").mkdir(parents=True)
    files = {"DCIM/SEB_1.JPG": b"jpeg" * 500, "DCIM/SEB_1.CR2": b"raw" * 900, "SIZE_ONLY.XML": b"<x/>",
             "file3.jpg": b"third"}
    for rel, data in files.items():
        (card / rel).write_bytes(data)

    def h(rel: str) -> str:
        data = files[rel]
        le = xxhash.xxh64(data).digest()[::-1].hex()
        return (f"<hash><file>{rel}</file><size>{len(data)}</size><md5>{hashlib.md5(data).hexdigest().upper()}</md5>"
                f"<sha1>{hashlib.sha1(data).hexdigest()}</sha1><xxhash>{xxhash.xxh32(data).intdigest()}</xxhash>"
                f"<xxhash64>{le}</xxhash64><hashdate>2019-03-17T08:32:51</hashdate></hash>")

    body = "".join(h(r) for r in ("DCIM/SEB_1.JPG", "DCIM/SEB_1.CR2"))
    body += "<hash><file>SIZE_ONLY.XML</file><size>4</size><null/></hash>"
    body += "<hash><file>file3.jpg</file><size>5</size><xxhash64be>y19649bc55e32b83f</xxhash64be></hash>"
    (card / "A005.mhl").write_text(f'<?xml version="1.0"?><hashlist version="1.1"><creatorinfo><tool>Hedge</tool>'
                                   f"</creatorinfo>{body}</hashlist>")
    m = read_manifest(card / "A005.mhl")
    assert m.kind == "mhl1" and m.recursive
    assert kinds(verify_manifest(m)) == [("mismatch", "file3.jpg")]  # its only hash is spoiled
    for algos in (("xxh64",), ("xxh32",), ("md5",), ("sha1",)):  # each format on its own agrees
        assert kinds(verify_manifest(m, algorithms=algos, unlisted=False)) == (
            [("mismatch", "file3.jpg")] if algos == ("xxh64",) else [])
    (card / "DCIM" / "SEB_1.CR2").write_bytes(b"RAW" * 900)  # same size, other bytes
    (card / "SIZE_ONLY.XML").write_bytes(b"<xy/>")
    assert kinds(verify_manifest(m)) == [("mismatch", "DCIM/SEB_1.CR2"), ("mismatch", "SIZE_ONLY.XML"),
                                         ("mismatch", "file3.jpg")]


# -- the plugin -----------------------------------------------------------------------------------

def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dst


def test_plugin_on_the_rawcooked_delivery(tmp_path: Path) -> None:
    plugin = load_plugin_file(PLUGIN)
    vol = tmp_path / "vendor"
    _copy(corpus(*RAWCOOKED, "BuggyPackages", "HashIssues", "Hash_MD5"), vol / "Hash_MD5")
    (vol / "Hash_MD5" / "image" / "checksum.txt").write_text("garbage only\n")
    config = build_config({"volumes": [{"name": "vendor", "path": str(vol)}]}, sections=plugin.config_sections())
    history = StoreHistory(Store(":memory:"), 1)
    assets = [file_asset("vendor", str(vol), p.relative_to(vol).as_posix())
              for p in sorted(vol.rglob("*")) if p.is_file()]
    checked = [f for a in assets for f in plugin.check(asset=a, history=history, config=config)]
    assert sorted((f.rule, f.asset.relpath) for f in checked) == [
        ("manifest.mismatch", "Hash_MD5/image/0.txt"), ("manifest.mismatch", "Hash_MD5/image/000001.dpx")]
    f = next(f for f in checked if f.asset.name == "000001.dpx")
    assert f.message == ("000001.dpx does not match the checksum in deep.md5, bsd.md5, bsdr.md5, sum.md5 "
                         "(md5 506c4aeb7131bffec5607d547a525f84, expected 699451e52604e4c74c7946347bc33d0c): "
                         "the copy is damaged or was changed")
    assert f.owner == "dit" and "vfx" in f.impacts and f.fix
    batch = plugin.batch_done(assets=assets, history=history, config=config)
    assert sorted((f.rule, f.asset.relpath) for f in batch) == [
        ("manifest.missing_file", "Hash_MD5/audio/audio2.wav"),
        ("manifest.missing_file", "Hash_MD5/image/000005.dpx"),
        ("manifest.unlisted", "Hash_MD5/audio/audio1.wav"),
        ("manifest.unlisted", "Hash_MD5/image/000002.dpx"),
        ("manifest.unreadable", "Hash_MD5/image/checksum.txt")]
    missing = next(f for f in batch if f.asset.name == "audio2.wav")
    assert missing.message == "audio2.wav is listed in bsd.md5, bsdr.md5, sum.md5 but not on the volume"
    assert (missing.asset.size, missing.asset.mtime_ns) == (0, 0)
    unlisted = next(f for f in batch if f.asset.name == "000002.dpx")
    assert unlisted.message == ("image/000002.dpx is next to deep.md5, bsd.md5, bsdr.md5, sum.md5 but not "
                                "listed in them")
    # One batch holding a single file re-raises the folder's open problems (so they stay open).
    again = plugin.batch_done(assets=assets[:1], history=history, config=config)
    assert {f.fingerprint for f in again} >= {f.fingerprint for f in batch}
    assert {f.rule for f in again} - {f.rule for f in batch} == {"manifest.mismatch"}
