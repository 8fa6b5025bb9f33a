"""Issue 12: `--write` never loses work. The edit keeps the file's mode, owner, line endings and
symlink, refuses a file that changed since it was read, reports permission problems without a
traceback and leaves no temporary file behind."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

# autouse: every `resize --write` here judges the same change of the same environment
from lifecycle_helpers import each_environment_synthesized_once  # noqa: F401

from ops.__main__ import main
from ops.lifecycle import config_change as cc
from ops.lifecycle.resize import resize_request

PROJECT = Path(__file__).resolve().parent.parent
TEXT = (
    "# Demo environment for edit tests.\n"
    "profile: poc\n"
    "region: us-east-1\n"
    "\n"
    "restaurants:\n"
    "  - slug: trattoria   # the pilot\n"
    "    tier: poc\n"
)
NEW = TEXT.replace("tier: poc\n", "tier: poc\n    size: medium\n")


def make(directory: Path, text: str = TEXT, *, crlf: bool = False, mode: int = 0o644) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo.yaml"
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
    path.chmod(mode)
    return path


def snapshot(path: Path) -> tuple[bytes, int, int, int]:
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_mode_is_kept(tmp_path: Path) -> None:
    path = make(tmp_path, mode=0o664)
    cc.write_atomically(path, NEW, path.read_bytes())
    assert path.read_text(encoding="utf-8") == NEW
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert leftovers(tmp_path) == []


def test_crlf_line_endings_and_a_bom_are_kept(tmp_path: Path) -> None:
    path = make(tmp_path, crlf=True)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    original = path.read_bytes()
    cc.write_atomically(path, NEW, original)
    written = path.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf")
    assert written.count(b"\r\n") == NEW.count("\n") and b"\n" not in written.replace(b"\r\n", b"")


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    real = make(tmp_path / "shared")
    link_dir = tmp_path / "envs"
    link_dir.mkdir()
    link = link_dir / "demo.yaml"
    link.symlink_to(real)
    cc.write_atomically(link, NEW, link.read_bytes())
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text(encoding="utf-8") == NEW
    assert leftovers(real.parent) == [] and leftovers(link_dir) == []


def test_owner_and_group_are_kept(tmp_path: Path) -> None:
    assert os.getuid() == 0, "changing a file's owner needs root (CI and dev machines are)"
    path = make(tmp_path)
    os.chown(path, 65534, 65534)
    cc.write_atomically(path, NEW, path.read_bytes())
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert path.read_text(encoding="utf-8") == NEW


def test_a_file_changed_since_it_was_read_is_not_overwritten(tmp_path: Path) -> None:
    path = make(tmp_path)
    original = path.read_bytes()
    colleague = TEXT.replace("# the pilot", "# the pilot, promoted next week")
    path.write_text(colleague, encoding="utf-8")
    before = snapshot(path)
    with pytest.raises(cc.ChangeError, match="changed on disk since it was read"):
        cc.write_atomically(path, NEW, original)
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_resize_write_into_a_read_only_directory_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The directory is made immutable (chattr +i): even root cannot create the temporary file
    there, exactly as an ordinary user in a read-only directory."""
    directory = tmp_path / "envs"
    path = make(directory)
    before = snapshot(path)
    subprocess.run(["chattr", "+i", str(directory)], check=True)
    try:
        args = ["resize", "trattoria", "--size", "medium", "--env", "demo"]
        code = main([*args, "--config-dir", str(directory), "--write"])
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)
    err = capsys.readouterr().err
    assert code == cc.EXIT_INPUT
    assert "demo.yaml: cannot write: Operation not permitted" in err
    assert "nothing was changed" in err and "Traceback" not in err
    assert snapshot(path) == before
    assert leftovers(directory) == []


@pytest.mark.slow  # `resize` synthesizes the environment before and after (once per module)
@pytest.mark.parametrize("mode", [0o444, 0o400])
def test_resize_write_refuses_a_read_only_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    """A file marked read-only is not replaced through the rename (which only needs the
    directory). The tests run as root, which ignores the bits: the mode is checked itself."""
    directory = tmp_path / "envs"
    path = make(directory, mode=mode)
    before, inode = snapshot(path), path.stat().st_ino
    args = ["resize", "trattoria", "--size", "medium", "--env", "demo"]
    code = main([*args, "--config-dir", str(directory), "--write"])
    err = capsys.readouterr().err
    assert code == cc.EXIT_INPUT
    assert f"demo.yaml: cannot write: the file is read-only (mode {mode:04o})" in err
    assert "nothing was changed" in err and "Traceback" not in err
    assert snapshot(path) == before
    assert path.stat().st_ino == inode, "the file was replaced"
    assert leftovers(directory) == []


def test_a_read_only_link_target_is_refused_through_the_link(tmp_path: Path) -> None:
    real = make(tmp_path / "shared", mode=0o444)
    link = tmp_path / "demo.yaml"
    link.symlink_to(real)
    with pytest.raises(cc.ChangeError, match="read-only"):
        cc.write_atomically(link, NEW, link.read_bytes())
    assert real.read_text(encoding="utf-8") == TEXT


@pytest.mark.slow
def test_resize_write_keeps_link_mode_and_crlf_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envs = tmp_path / "envs"
    real = make(envs / "shared", crlf=True, mode=0o640)  # a link inside the config directory
    (envs / "demo.yaml").symlink_to(real)
    args = ["resize", "trattoria", "--size", "medium", "--env", "demo", "--config-dir", str(envs)]
    assert main([*args, "--write"]) == 0, capsys.readouterr().err
    assert (envs / "demo.yaml").is_symlink()
    written = real.read_bytes()
    assert b"size: medium\r\n" in written and b"# the pilot\r\n" in written
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert leftovers(real.parent) == [] and leftovers(envs) == []


@pytest.mark.slow
def test_resize_write_refuses_when_a_colleague_saved_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(tmp_path / "envs")
    colleague = TEXT.replace("# the pilot", "# the pilot (edited by a colleague)")
    judge = cc.judge

    def judge_while_a_colleague_saves(*args: object, **kwargs: object) -> cc.Judgement:
        result = judge(*args, **kwargs)  # type: ignore[arg-type]
        path.write_text(colleague, encoding="utf-8")  # saved while the plan was computed
        return result

    monkeypatch.setattr(cc, "judge", judge_while_a_colleague_saves)
    request = resize_request("trattoria", "demo", "medium", path.parent)
    assert request.edits == {"size": "medium"}
    args = ["resize", "trattoria", "--size", "medium", "--env", "demo"]
    code = main([*args, "--config-dir", str(path.parent), "--write"])
    captured = capsys.readouterr()
    assert code == cc.EXIT_INPUT
    assert "changed on disk since it was read" in captured.err
    assert path.read_text(encoding="utf-8") == colleague
    assert leftovers(path.parent) == []


def test_where_the_owner_cannot_be_kept_by_a_rename_the_file_is_rewritten_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary user editing a colleague's group-writable file cannot chown a new file to the
    colleague: the content is then rewritten in place (same inode, owner and mode)."""
    path = make(tmp_path, mode=0o664)
    os.chown(path, 65534, 65534)
    inode = path.stat().st_ino

    def refuse_chown(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse_chown)
    cc.write_atomically(path, NEW, path.read_bytes())
    info = path.stat()
    assert (info.st_ino, info.st_uid, info.st_gid) == (inode, 65534, 65534)
    assert stat.S_IMODE(info.st_mode) == 0o664
    assert path.read_text(encoding="utf-8") == NEW
    assert leftovers(tmp_path) == []
