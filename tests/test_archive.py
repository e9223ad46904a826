"""TorchScript archives: inspected only in the sandbox, migrated to torch.export with parity, bad files refused.

The archives are made here at run time (nothing binary is committed). Refusals never reach the
sandbox; the payload tests plant a pickle that would create a file when unpickled and assert that
the file does not exist afterwards (and a control proves the payload is live).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from jit_explorer import archive, sandbox
from jit_explorer.archive import ArchiveError, ArchiveReport, check_archive, inspect_archive, parse_input_spec
from jit_explorer.errors import InputError
from jit_explorer.sandbox import Limits

ROOT = Path(__file__).resolve().parent.parent
warnings.filterwarnings("ignore", category=FutureWarning)


# --------------------------------------------------------------------------- models written to archives


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1))


class Gate(torch.nn.Module):
    """A data-dependent branch: traced it would freeze, scripted it stays a prim::If."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return torch.relu(self.fc(x))
        return self.fc(x) * -2.0


class TwoMethods(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).tanh()

    @torch.jit.export
    def encode(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        return self.proj(x) * scale


class Payload:
    """Unpickling this creates ``path`` (what a hostile checkpoint would do, but harmless)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("archives")
    torch.manual_seed(0)
    out = {"cnn": d / "cnn_trace.pt", "gate": d / "gate_script.pt", "two": d / "two_methods.pt"}
    cnn = SmallCNN().eval()
    torch.jit.save(torch.jit.trace(cnn, torch.randn(1, 3, 32, 32)), str(out["cnn"]))
    torch.jit.save(torch.jit.script(Gate()), str(out["gate"]))
    torch.jit.save(torch.jit.script(TwoMethods()), str(out["two"]))
    return out


@pytest.fixture(scope="module")
def pool() -> Iterator[sandbox.WorkerPool]:
    p = sandbox.WorkerPool(limits=Limits(spares=1))
    p.start()
    yield p
    p.close()


class NoPool:
    """A pool that fails the test if anything reaches the sandbox."""

    limits = Limits(spares=0)

    def run(self, request: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
        raise AssertionError("a refused file reached the sandbox")


# --------------------------------------------------------------------------- good archives


def test_traced_cnn(files: dict[str, Path], pool: sandbox.WorkerPool) -> None:
    r = inspect_archive(files["cnn"], pool=pool)
    assert r.ok, r.error
    assert [m.name for m in r.methods] == ["forward"]
    tree = {s.name: s for s in r.submodules}
    assert tree["conv"].params == 8 * 3 * 3 * 3 + 8 and tree["conv"].param_bytes == tree["conv"].params * 4
    assert tree["bn"].params == 16 and tree["bn"].buffers == 8 + 8 + 1  # running mean, var, num_batches_tracked
    assert tree[""].total_params == sum(p.numel() for p in SmallCNN().parameters())
    assert tree["conv"].type.endswith("Conv2d") and "mangle" not in tree["bn"].type
    ops = {o.kind: o for o in r.ops}
    assert ops["aten::_convolution"].count == 1 and ops["aten::linear"].count == 1
    assert ops["aten::linear"].doc  # documented
    assert set(r.views["forward"]) == {"graph", "code", "inlined"}
    assert "aten::_convolution" in r.views["forward"]["inlined"]
    assert r.input_spec == "float32[2, 3, 224, 224]"  # guessed from conv's weight: 3 input channels
    m = r.migration
    assert m is not None and m.ok, m.error if m else None
    assert m.inputs_source == "weights" and m.parity is True and m.max_abs_diff is not None
    assert m.max_abs_diff < 1e-4 and m.checks == 1
    assert "aten.convolution" in m.graph
    assert any(c.kind == "renamed" and "aten::_convolution" in c.message for c in m.changes)
    assert m.other_methods == ()
    json.dumps(r.to_dict())  # JSON-ready
    assert set(r.to_dict()) >= {"ok", "error", "methods", "submodules", "ops", "views", "migration"}


def test_scripted_branch_becomes_torch_cond_with_parity(files: dict[str, Path], pool: sandbox.WorkerPool) -> None:
    r = inspect_archive(files["gate"], pool=pool, pt2=True)
    assert r.ok, r.error
    assert "prim::If" in r.views["forward"]["graph"]
    m = r.migration
    assert m is not None and m.ok, m.error if m else None
    cond = [c for c in m.changes if c.kind == "cond"]
    assert cond and cond[0].count == 1 and "torch.cond" in cond[0].message
    assert "torch.ops.higher_order.cond" in m.graph and "true_graph_0" in m.graph
    # both sides of the branch were compared: the inputs and their negation
    assert m.checks == 2 and m.parity is True and m.max_abs_diff is not None and m.max_abs_diff < 1e-5
    # the .pt2 came back and loads as an ExportedProgram that chooses the branch at run time
    data = r.artifacts["pt2"]
    assert m.pt2_bytes == len(data) > 0
    ep = torch.export.load(io.BytesIO(data))
    x = torch.randn(3, 8).abs()
    gate = torch.jit.load(str(files["gate"]))
    for sample in (x, -x):
        torch.testing.assert_close(ep.module()(sample), gate(sample))


def test_second_exported_method_is_listed_with_advice(files: dict[str, Path], pool: sandbox.WorkerPool) -> None:
    r = inspect_archive(files["two"], pool=pool, inputs="float32[4, 6]")
    assert r.ok, r.error
    methods = {m.name: m for m in r.methods}
    assert set(methods) == {"forward", "encode"} and methods["encode"].exported and not methods["forward"].exported
    assert [a.type for a in methods["encode"].args] == ["Tensor", "float"]
    assert "encode" in r.views and "aten::linear" in r.views["encode"]["inlined"]
    m = r.migration
    assert m is not None and m.ok and m.inputs == "float32[4, 6]" and m.inputs_source == "user"
    advice = {a.name: a for a in m.other_methods}
    assert set(advice) == {"encode"}
    assert "own program" in advice["encode"].advice and "model.encode(x, scale)" in advice["encode"].advice
    assert advice["encode"].signature == "encode(x: Tensor, scale: float) -> Tensor"


def test_wrong_inputs_say_what_to_give(files: dict[str, Path], pool: sandbox.WorkerPool) -> None:
    r = inspect_archive(files["two"], pool=pool, inputs="float32[4, 5]")
    assert r.ok and r.migration is not None and not r.migration.ok
    err = r.migration.error or {}
    assert err["kind"] == "inputs" and "float32[4, 5]" in err["message"] and "--inputs" in err["hint"]


# --------------------------------------------------------------------------- bad files, refused before the sandbox


def _torchscript_zip(files: dict[str, Path]) -> bytes:
    return files["two"].read_bytes()


def test_torch_save_checkpoint_with_payload_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": Payload(marker), "weights": torch.ones(2)}, path)
    r = inspect_archive(path, pool=NoPool())
    assert not r.ok and r.error is not None and r.error["kind"] == "checkpoint"
    assert "not a TorchScript archive" in r.error["message"] and "load_state_dict" in r.error["message"]
    assert r.error["message"].count(". ") == 0  # one sentence
    assert not marker.exists()
    # control: the payload is live — unpickling it (in a throw-away process) does create the file
    code = ("import sys, zipfile, pickle; z = zipfile.ZipFile(sys.argv[1]); "
            "pickle.loads(z.read([n for n in z.namelist() if n.endswith('data.pkl')][0]))")
    subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=60, cwd=tmp_path)
    assert marker.exists()


def test_state_dict_and_old_pickle_format_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sd = tmp_path / "weights.pth"
    torch.save(SmallCNN().state_dict(), sd)
    r = inspect_archive(sd, pool=NoPool())
    assert r.error is not None and r.error["kind"] == "checkpoint"
    old = tmp_path / "old.pt"
    torch.save(Payload(marker), old, _use_new_zipfile_serialization=False)
    r = inspect_archive(old, pool=NoPool())
    assert r.error is not None and r.error["kind"] == "pickle" and "old pickle format" in r.error["message"]
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(Payload(marker)))
    r = inspect_archive(plain, pool=NoPool())
    assert r.error is not None and r.error["kind"] == "pickle"
    assert not marker.exists()


def _zip(path: Path, entries: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("case", ["empty", "truncated", "not-zip", "huge", "zip-bomb", "too-many-entries",
                                  "not-torchscript", "pt2"])
def test_bad_files_are_refused_in_one_sentence(case: str, tmp_path: Path, files: dict[str, Path]) -> None:
    path = tmp_path / f"{case}.pt"
    ts = {"m/code/__torch__/m.py": b"", "m/constants.pkl": b"", "m/data.pkl": b"", "m/version": b"3"}
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        data = _torchscript_zip(files)
        path.write_bytes(data[: len(data) // 2])
    elif case == "not-zip":
        path.write_text("def forward(x):\n    return x\n")
    elif case == "huge":
        with open(path, "wb") as f:  # sparse: no disk is used
            f.truncate(archive.MAX_ARCHIVE_BYTES + 1)
    elif case == "zip-bomb":
        _zip(path, {**ts, "m/data/0": bytes(64 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    elif case == "too-many-entries":
        _zip(path, {**ts, **{f"m/data/{i}": b"x" for i in range(archive.MAX_ENTRIES + 500)}})
    elif case == "not-torchscript":
        _zip(path, {"stuff/readme.txt": b"hello"})
    elif case == "pt2":
        class Tiny(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + 1

        torch.export.save(torch.export.export(Tiny(), (torch.ones(2),)), str(path))
    r = inspect_archive(path, pool=NoPool())
    assert not r.ok and r.error is not None
    assert r.error["kind"] == {"huge": "too-large"}.get(case, case), r.error
    message = r.error["message"]
    assert "\n" not in message and message.endswith(".") and message[0].isupper()
    assert str(tmp_path) not in message  # no machine path in what a person sees


def test_refusals_read_only_the_zip_directory(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the sandbox nothing is unpickled: even a good archive only crosses over as bytes."""
    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("unpickled outside the sandbox")

    for target, name in ((pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"), (torch, "load"),
                         (torch.jit, "load")):
        monkeypatch.setattr(target, name, boom)
    seen: dict[str, Any] = {}

    class Capture(NoPool):
        def run(self, request: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
            seen.update(request)
            return {"ok": False, "error": {"kind": "timeout", "message": "stopped"}}

    r = inspect_archive(files["gate"], pool=Capture())
    assert seen["op"] == "inspect" and seen["archive_b64"] and seen["filename"] == "gate_script.pt"
    assert not r.ok and r.error == {"kind": "timeout", "message": "stopped"}


def test_hostile_data_pkl_inside_a_torchscript_zip_only_fails_in_the_sandbox(
        tmp_path: Path, files: dict[str, Path], pool: sandbox.WorkerPool) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.pt"
    with zipfile.ZipFile(files["gate"]) as src, zipfile.ZipFile(hostile, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith(("/data.pkl", "/constants.pkl")):
                data = pickle.dumps(Payload(marker), protocol=2)
            dst.writestr(info, data)
    check_archive(hostile.read_bytes())  # it passes the directory checks: only the sandbox opens it
    r = inspect_archive(hostile, pool=pool)
    assert not r.ok and r.error is not None and r.error["kind"] == "load"
    assert r.error["message"].startswith("torch.jit.load could not open this archive")
    assert not marker.exists()


def test_check_archive_accepts_a_real_archive(files: dict[str, Path]) -> None:
    s = check_archive(files["cnn"].read_bytes())
    assert s.prefix and s.entries > 4 and s.code_files >= 1
    with pytest.raises(ArchiveError) as e:
        check_archive(files["cnn"].read_bytes(), max_bytes=1000)
    assert e.value.kind == "too-large"


# --------------------------------------------------------------------------- input specs, records


def test_input_spec_round_trip_and_errors() -> None:
    specs = parse_input_spec("float32[1, 3, 224, 224], int64[2,8], [4], 3, 0.5, True")
    assert [s.text() for s in specs] == ["float32[1, 3, 224, 224]", "int64[2, 8]", "float32[4]", "3", "0.5", "True"]
    assert archive.format_input_spec(specs) == "float32[1, 3, 224, 224], int64[2, 8], float32[4], 3, 0.5, True"
    assert parse_input_spec("") == ()
    for bad in ("float32[?, 8]", "complex[2]", "float32[a]", "torch.randn(2)", "float32[100000, 100000]"):
        with pytest.raises(InputError):
            parse_input_spec(bad)


def test_report_round_trips_through_json() -> None:
    r = ArchiveReport.failed("x.pt", "empty", "The file is empty.")
    assert ArchiveReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_aoti_snippet_names_the_loader() -> None:
    cpp = archive.aoti_cpp_snippet("model.pt2", parse_input_spec("float32[1, 3, 224, 224], int64[1, 8]"))
    assert "AOTIModelPackageLoader loader(\"model.pt2\")" in cpp
    assert "torch::randn({1, 3, 224, 224}" in cpp and "torch::kInt64" in cpp


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JIT_EXPLORER_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "jit_explorer", "inspect", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_cli_inspect_json_and_text(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "gate.pt2"
    p = _cli(str(files["gate"]), "--json", "--pt2", str(out))
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["ok"] and d["migration"]["ok"] and d["migration"]["parity"] is True
    assert any(c["kind"] == "cond" for c in d["migration"]["changes"])
    assert out.stat().st_size == d["migration"]["pt2_bytes"]
    assert str(files["gate"].parent) not in p.stdout  # the name only, no directories


def test_cli_refuses_a_checkpoint_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.ones(2)}, path)
    p = _cli(str(path))
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "torch.save checkpoint" in lines[0] and "Traceback" not in p.stderr


@pytest.mark.slow
def test_aoti_package_is_built_in_the_sandbox_and_runs(files: dict[str, Path], pool: sandbox.WorkerPool,
                                                       tmp_path: Path) -> None:
    """Opt-in AOTInductor packaging (tens of seconds: g++ runs inside the confined worker)."""
    from torch._inductor import aoti_load_package

    r = inspect_archive(files["two"], pool=pool, inputs="float32[4, 6]", aoti=True)
    m = r.migration
    assert m is not None and m.aoti is not None and m.aoti.ok, m.aoti
    assert "AOTIModelPackageLoader" in m.aoti.cpp and m.aoti.size_bytes == len(r.artifacts["aoti"])
    package = tmp_path / "two_aoti.pt2"
    package.write_bytes(r.artifacts["aoti"])
    x = torch.randn(4, 6)
    torch.testing.assert_close(aoti_load_package(str(package))(x), torch.jit.load(str(files["two"]))(x))
