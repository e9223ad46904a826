"""Your own code saved as a TorchScript .pt (jit_explorer.pasted_save): the worker's half, run here on our own
source in a temporary folder, and the server's door (sandbox.save_source) through a real sandboxed process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from jit_explorer import sandbox
from jit_explorer.errors import InputError, SnippetError
from jit_explorer.pasted_save import SavedModule, save_here

SOURCE = '''import torch


class Scale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((4,), 3.0))

    def forward(self, x):
        return x * self.w


def add(x, y):
    return x + y


def first_item(xs):
    return xs[0]


def example_inputs():
    return (torch.ones(2, 4),)
'''


def _load(saved: SavedModule) -> torch.jit.ScriptModule:
    with pytest.warns(FutureWarning):  # torch.jit.load is deprecated; the file is ours, loading it here is safe
        return torch.jit.load(io.BytesIO(saved.data))


def test_a_module_is_traced_and_saved_with_its_input_shapes(tmp_path: Path) -> None:
    answer = save_here(SOURCE, workdir=tmp_path, entry="Scale", mode="trace")
    assert answer["ok"], answer
    saved = SavedModule.from_json(answer["saved"])
    assert (saved.entry, saved.mode, saved.filename) == ("Scale", "trace", "Scale_trace.pt")
    assert saved.inputs == (((2, 4), "float32"),)
    assert torch.equal(_load(saved)(torch.ones(2, 4)), torch.full((2, 4), 3.0))
    assert not list(tmp_path.glob("*.pt"))  # the file travels in the answer, not left in the work dir


def test_a_function_is_saved_inside_a_module_that_cpp_can_load(tmp_path: Path) -> None:
    answer = save_here(SOURCE, workdir=tmp_path, entry="add", inputs="(torch.ones(2), torch.ones(2))",
                       mode="script")
    assert answer["ok"], answer
    module = _load(SavedModule.from_json(answer["saved"]))
    assert isinstance(module, torch.jit.ScriptModule)
    assert torch.equal(module.forward(torch.ones(2), torch.full((2,), 2.0)), torch.full((2,), 3.0))


def test_what_cannot_be_saved_says_why_in_one_sentence(tmp_path: Path) -> None:
    lists = save_here(SOURCE, workdir=tmp_path, entry="first_item", inputs="([torch.ones(2)],)", mode="trace")
    assert not lists["ok"] and "1 to 4 tensors" in lists["error"]["message"]
    export = save_here(SOURCE, workdir=tmp_path, entry="Scale", mode="export")
    assert not export["ok"] and "trace or script" in export["error"]["message"]
    broken = save_here("import torch\n\ndef f(x):\n    return x.item() + undefined_name\n", workdir=tmp_path,
                       entry="f", inputs="torch.ones(1)", mode="trace")
    assert not broken["ok"] and broken["error"]["line"] == 4


def test_the_sandbox_saves_pasted_code_and_refuses_what_torch_cannot_compile() -> None:
    saved = sandbox.save_source(SOURCE, entry="Scale", mode="script", filename="mine.py")
    assert saved.filename == "Scale_script.pt" and saved.data[:2] == b"PK"  # a zip archive
    assert torch.equal(_load(saved)(torch.ones(2, 4)), torch.full((2, 4), 3.0))
    noisy = "import random\nimport torch\n\ndef f(x):\n    return x * random.random()\n"
    with pytest.raises(SnippetError) as e:
        sandbox.save_source(noisy, entry="f", inputs="torch.ones(2)", mode="script", filename="mine.py")
    assert e.value.line == 5 and str(e.value).startswith("nothing to save for f: torch.jit.script failed")
    with pytest.raises(InputError, match="trace or script"):
        sandbox.save_source(SOURCE, entry="Scale", mode="compile")


@pytest.mark.parametrize("forged", [
    {"entry": "f", "mode": "trace", "pt_b64": "UEs=", "inputs": [[[1] * 17, "float32"]]},
    {"entry": "f", "mode": "trace", "pt_b64": "UEs=", "inputs": [[[2], "float32"]] * 65},
    {"entry": "f", "mode": "trace", "pt_b64": "not base64!", "inputs": []},
    {"entry": "f", "mode": "trace", "inputs": []},
    {"entry": "f", "mode": "trace", "pt_b64": "UEs=", "inputs": [["x", "float32"]]},
])
def test_a_forged_answer_of_the_sandboxed_process_is_refused(forged: dict[str, object]) -> None:
    """The answer comes from the process that ran pasted code (which may have replaced torch.jit.save)."""
    with pytest.raises(ValueError, match="malformed saved module"):
        SavedModule.from_json(forged)
