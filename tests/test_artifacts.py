"""Downloads are built once per key in a managed, size-capped folder that is cleaned (jit_explorer/artifacts.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from jit_explorer import artifacts
from jit_explorer.artifacts import ArtifactError, ArtifactStore
from jit_explorer.errors import InputError, UnknownModelError


def _writer(size: int, calls: list[str], key: str):  # noqa: ANN202 - a build callable
    def build(path: Path) -> None:
        calls.append(key)
        path.write_bytes(b"x" * size)

    return build


def test_built_once_per_key_and_same_path(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store", max_bytes=10_000)
    calls: list[str] = []
    a = store.artifact_for("a", _writer(100, calls, "a"), name="model_trace.pt")
    b = store.artifact_for("a", _writer(100, calls, "a"), name="model_trace.pt")
    assert a == b and a.name == "model_trace.pt" and calls == ["a"]
    assert store.total_bytes() == 100
    assert [p.name for p in a.parent.iterdir()] == ["model_trace.pt"]  # no partial file left


def test_what_build_returns_is_kept_with_the_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store", max_bytes=10_000)
    calls: list[str] = []

    def build(path: Path) -> dict[str, object]:
        calls.append("built")
        path.write_bytes(b"pt")
        return {"inputs": [[[2, 3], "float32"]]}

    first = store.artifact_with_meta("k", build, name="f_trace.pt")
    again = store.artifact_with_meta("k", build, name="f_trace.pt")
    assert first == again and first[1] == {"inputs": [[[2, 3], "float32"]]} and calls == ["built"]
    assert store.artifact_with_meta("other", lambda p: p.write_bytes(b"x"), name="o.pt")[1] == {}


def test_concurrent_requests_build_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store", max_bytes=10_000)
    calls: list[str] = []
    started = threading.Event()

    def slow(path: Path) -> None:
        calls.append("k")
        started.set()
        threading.Event().wait(0.2)
        path.write_bytes(b"1")

    out: list[Path] = []
    threads = [threading.Thread(target=lambda: out.append(store.artifact_for("k", slow, name="f.pt")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["k"] and len(set(out)) == 1


def test_lru_eviction_keeps_the_folder_under_the_cap(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store", max_bytes=250)
    calls: list[str] = []
    a = store.artifact_for("a", _writer(100, calls, "a"), name="a.pt")
    store.artifact_for("b", _writer(100, calls, "b"), name="b.pt")
    store.artifact_for("a", _writer(100, calls, "a"), name="a.pt")  # a is now the most recently used
    store.artifact_for("c", _writer(100, calls, "c"), name="c.pt")  # evicts b, the least recently used
    assert store.keys() == ["a", "c"] and a.exists()
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 250 and len(files) == 2
    store.artifact_for("b", _writer(100, calls, "b"), name="b.pt")  # rebuilt after eviction
    assert calls == ["a", "b", "c", "b"] and store.keys() == ["c", "b"]
    big = store.artifact_for("big", _writer(1000, calls, "big"), name="big.pt")  # larger than the cap: served alone
    assert big.exists() and store.keys() == ["big"]


def test_failed_build_leaves_nothing_and_raises(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")

    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError):
        store.artifact_for("k", broken, name="k.pt")
    with pytest.raises(ArtifactError, match="wrote no file"):
        store.artifact_for("k2", lambda path: None, name="k2.pt")
    assert not [p for p in store.root.rglob("*") if p.is_file()] and store.keys() == []


def test_names_are_safe(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    p = store.artifact_for("k", lambda path: path.write_text("x"), name="../../etc/passwd")
    assert p.parent.parent == store.root and "/" not in p.name and not p.name.startswith(".")


def test_close_removes_the_folder(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    store.artifact_for("k", lambda path: path.write_text("x"), name="k.pt")
    store.close()
    assert not store.root.exists()


def test_stale_folders_of_dead_processes_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f"{artifacts.PREFIX}{pid}-abc"
    (stale / "x").mkdir(parents=True)
    (stale / "x" / "bert_trace.pt").write_bytes(b"0" * 10)
    mine = tmp_path / f"{artifacts.PREFIX}{os.getpid()}-def"
    mine.mkdir()
    other = tmp_path / "unrelated-1-dir"
    other.mkdir()
    assert artifacts.sweep_stale(tmp_path) == 1
    assert not stale.exists() and mine.exists() and other.exists()


def test_the_process_store_is_removed_at_exit(tmp_path: Path) -> None:
    code = ("from jit_explorer import artifacts\n"
            "s = artifacts.default_store()\n"
            "s.artifact_for('k', lambda p: p.write_text('x'), name='k.pt')\n"
            "print(s.root)\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    root = Path(out.stdout.strip())
    assert root.parent == tmp_path.resolve() and not root.exists()


def test_torchscript_artifact_saves_once_and_loads(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    from jit_explorer import zoo

    (x,) = zoo.example_inputs("sign_branch")
    first = artifacts.torchscript_artifact("sign_branch", "script", store=store)
    mtime = first.stat().st_mtime_ns
    again = artifacts.torchscript_artifact("sign_branch", "script", store=store)
    assert again == first and again.stat().st_mtime_ns == mtime and first.name == "sign_branch_script.pt"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(first))
    assert torch.allclose(loaded(x), zoo.load("sign_branch").module(x))
    with pytest.raises(InputError):
        artifacts.torchscript_artifact("sign_branch", "export", store=store)
    with pytest.raises(UnknownModelError):
        artifacts.torchscript_artifact("no-such-model", "trace", store=store)
    assert store.keys() == [f"torchscript\0sign_branch\0script\0{torch.__version__}"]


def test_handler_download_is_served_without_a_gradio_copy() -> None:
    """The app's download: one file in the managed folder, registered as a Gradio static path (never copied)."""
    from gradio import processing_utils
    from gradio.data_classes import FileData
    from gradio.utils import is_static_file

    from app import handlers

    first = handlers.save_artifact("sign_branch", "trace")
    second = handlers.save_artifact("sign_branch", "trace")
    assert first == second and Path(first).parent.parent == artifacts.default_store().root
    assert is_static_file(first)
    import gradio as gr

    block = gr.File()
    data = processing_utils.move_files_to_cache(FileData(path=first), block, postprocess=True)
    assert data["path"] == first  # served from our folder, not copied into Gradio's cache
