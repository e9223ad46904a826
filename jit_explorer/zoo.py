"""The model catalogue: what each model is, how to build it and what it is fed.

Weights policy: pretrained weights are used when they are available (already in
the local cache, or downloadable from a hub that answers within a short
timeout); otherwise the model is randomly initialised. Random weights give the
same TorchScript IR and the same latency, but the model's outputs mean nothing.
No hub is contacted when ``JIT_EXPLORER_OFFLINE``, ``HF_HUB_OFFLINE`` or
``TRANSFORMERS_OFFLINE`` is set.

Example::

    >>> from jit_explorer import zoo
    >>> loaded = zoo.load("resnet18")
    >>> loaded.weights in ("pretrained", "random")
    True
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .errors import UnknownModelError

__all__ = ["ModelSpec", "LoadedModel", "MODELS", "names", "spec", "load", "example_inputs", "offline"]

DATA = Path(__file__).resolve().parent / "data"  # package data: shipped inside the wheel
BERT_VOCAB = DATA / "bert-base-uncased-vocab.txt"
BERT_SENTENCE = "[CLS] Who was Jim Henson ? [SEP] Jim Henson was a puppeteer [SEP]"
HUB_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry.

    Attributes:
        name: the identifier used by the CLI and the API (``resnet18``).
        title: a short human name.
        description: one or two sentences on what it shows.
        input_desc: the default input in words (shapes, dtypes).
        family: ``vision``, ``detection``, ``nlp``, ``sequence`` or ``teaching``.
        scriptable: whether ``torch.jit.script`` is expected to work (a hint for the UI).
    """

    name: str
    title: str
    description: str
    input_desc: str
    family: str
    scriptable: bool
    _build: Callable[[bool], tuple[nn.Module, str]]
    _inputs: Callable[[], tuple[Any, ...]]

    def to_dict(self) -> dict[str, Any]:
        """Return the catalogue row as JSON."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "input": self.input_desc,
            "family": self.family,
            "scriptable": self.scriptable,
        }


@dataclass(frozen=True)
class LoadedModel:
    """A built model in eval mode, its default inputs and where its weights came from."""

    spec: ModelSpec
    module: nn.Module
    weights: str  # "pretrained" | "random"

    def inputs(self, device: str = "cpu") -> tuple[Any, ...]:
        """Fresh default inputs on ``device``."""
        return tuple(t.to(device) if isinstance(t, torch.Tensor) else t for t in self.spec._inputs())


def offline() -> bool:
    """True when no hub may be contacted (an env var says so)."""
    return any(os.environ.get(v, "") not in ("", "0")
               for v in ("JIT_EXPLORER_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_reachable(host: str) -> bool:
    """Whether ``host``:443 accepts a connection within :data:`HUB_TIMEOUT_S` (never hangs)."""
    if offline():
        return False
    try:
        with socket.create_connection((host, 443), timeout=HUB_TIMEOUT_S):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- vision


def _torchvision(arch: str, weights_enum: str) -> Callable[[bool], tuple[nn.Module, str]]:
    def build(allow_download: bool) -> tuple[nn.Module, str]:
        import torchvision

        model: nn.Module = getattr(torchvision.models, arch)(weights=None)
        weights = getattr(torchvision.models, weights_enum).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        try:
            if cached.exists():
                model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
                return model, "pretrained"
            if allow_download and _hub_reachable("download.pytorch.org"):
                state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=False)
                model.load_state_dict(state)
                return model, "pretrained"
        except Exception:  # a corrupt cache or a failed download: fall back, never crash
            model = getattr(torchvision.models, arch)(weights=None)
        return model, "random"

    return build


def _image_inputs() -> tuple[torch.Tensor]:
    return (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)),)


def _ssdlite(allow_download: bool) -> tuple[nn.Module, str]:
    """torchvision's SSDlite detector; no backbone download (its weights enum would fetch one)."""
    import torchvision

    weights = torchvision.models.detection.SSDLite320_MobileNet_V3_Large_Weights.DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    try:
        if cached.exists():
            model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
            return model, "pretrained"
    except Exception:  # a corrupt cache: random weights, never a crash
        model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    return model, "random"


def _detection_inputs() -> tuple[list[torch.Tensor]]:
    return ([torch.rand(3, 320, 320, generator=torch.Generator().manual_seed(0))],)


# --------------------------------------------------------------------------- BERT


def _bert(allow_download: bool) -> tuple[nn.Module, str]:
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        model = BertModel.from_pretrained("bert-base-uncased", local_files_only=True, return_dict=False)
        return model, "pretrained"
    except Exception:
        pass
    if allow_download and _hub_reachable("huggingface.co"):
        try:
            model = BertModel.from_pretrained("bert-base-uncased", return_dict=False)
            return model, "pretrained"
        except Exception:
            pass
    config = BertConfig(return_dict=False)  # bert-base-uncased's shape: 12 layers, 768 hidden
    torch.manual_seed(0)
    return BertModel(config), "random"


def _gpt2(allow_download: bool) -> tuple[nn.Module, str]:
    """GPT-2 (124M) from a local cache when there is one, else the same architecture with random weights."""
    from transformers import GPT2Config, GPT2Model
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        model = GPT2Model.from_pretrained("gpt2", local_files_only=True, return_dict=False, use_cache=False)
        return model, "pretrained"
    except Exception:
        pass
    torch.manual_seed(0)
    return GPT2Model(GPT2Config(return_dict=False, use_cache=False)), "random"


def _gpt2_inputs() -> tuple[torch.Tensor]:
    return (torch.randint(0, 50257, (1, 16), generator=torch.Generator().manual_seed(0)),)


@functools.lru_cache(maxsize=1)
def _bert_tokens() -> tuple[list[int], list[int]]:
    from transformers import BertTokenizer

    tok = BertTokenizer(vocab=str(BERT_VOCAB), do_lower_case=True)  # transformers 5: `vocab`, not `vocab_file`
    words = tok.tokenize(BERT_SENTENCE)
    ids = cast(list[int], tok.convert_tokens_to_ids(words))  # a list of tokens gives a list of ids
    sep = words.index("[SEP]")
    segments = [0] * (sep + 1) + [1] * (len(words) - sep - 1)
    return ids, segments


def _bert_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, token_type_ids)``, positional as ``BertModel.forward`` takes them.

    (The founding blog passed the segment ids second, where BertModel expects the attention
    mask; here they go where they belong.)
    """
    ids, segments = _bert_tokens()
    return torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long), torch.tensor([segments])


# --------------------------------------------------------------------------- sequence and teaching


class GRUClassifier(nn.Module):
    """A small token classifier: embedding -> 1-layer GRU -> linear on the last state."""

    def __init__(self, vocab: int = 1000, dim: int = 64, hidden: int = 128, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(tokens))
        return self.head(out[:, -1])


class SignBranch(nn.Module):
    """Branches on a tensor's value: the trace freezes one branch, script keeps both."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x - 1


class RunningLoop(nn.Module):
    """Loops over the first dimension: the trace unrolls it, script keeps a loop."""

    def __init__(self, features: int = 8) -> None:
        super().__init__()
        self.cell = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.zeros_like(x[0])
        for i in range(x.size(0)):
            h = torch.tanh(self.cell(h) + x[i])
        return h


def _plain(factory: Callable[[], nn.Module]) -> Callable[[bool], tuple[nn.Module, str]]:
    def build(allow_download: bool) -> tuple[nn.Module, str]:
        torch.manual_seed(0)
        return factory(), "random"

    return build


def _seeded(*shape: int, low: int | None = None, high: int | None = None) -> Callable[[], tuple[torch.Tensor]]:
    def make() -> tuple[torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        if low is not None and high is not None:
            return (torch.randint(low, high, shape, generator=g),)
        return (torch.randn(*shape, generator=g),)

    return make


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            "resnet18", "ResNet-18",
            "torchvision's ResNet-18 image classifier, one of the founding blog's two models. "
            "Traces and scripts cleanly: no data-dependent control flow.",
            "image batch 1x3x224x224 float32", "vision", True,
            _torchvision("resnet18", "ResNet18_Weights"), _image_inputs,
        ),
        ModelSpec(
            "mobilenet_v3_small", "MobileNetV3-Small",
            "A small mobile image classifier with depthwise convolutions and hard-swish activations.",
            "image batch 1x3x224x224 float32", "vision", True,
            _torchvision("mobilenet_v3_small", "MobileNet_V3_Small_Weights"), _image_inputs,
        ),
        ModelSpec(
            "bert-base-uncased", "BERT-base (uncased)",
            "Hugging Face's BertModel, the blog's other model. Traces with return_dict=False; "
            "torch.jit.script fails on transformers models (they use Python features TorchScript lacks).",
            "token ids, attention mask and segment ids 1x14 int64: '" + BERT_SENTENCE + "'", "nlp", False,
            _bert, _bert_inputs,
        ),
        ModelSpec(
            "gpt2", "GPT-2 (small)",
            "Hugging Face's GPT2Model (124M). torch.export shows what it specialises: the batch of 1 is baked in, "
            "the sequence length stays symbolic; torch.jit.script fails on transformers code. All four modes: "
            "about 5 s on a 2-core CPU.",
            "token ids 1x16 int64", "nlp", False,
            _gpt2, _gpt2_inputs,
        ),
        ModelSpec(
            "ssdlite", "SSDlite detector",
            "torchvision's SSDlite320 (MobileNetV3) object detector. Its post-processing (score thresholds, "
            "top-k, NMS) has data-dependent sizes: the trace refuses its list-of-dicts output, export fails on a "
            "data-dependent size, torch.compile breaks the graph there, and script keeps it all. All four modes: "
            "about 18 s on a 2-core CPU.",
            "a list of one image 3x320x320 float32", "detection", True,
            _ssdlite, _detection_inputs,
        ),
        ModelSpec(
            "gru", "GRU classifier",
            "Embedding, a one-layer GRU and a linear head: a recurrent sequence model.",
            "token ids 1x12 int64", "sequence", True,
            _plain(GRUClassifier), _seeded(1, 12, low=0, high=1000),
        ),
        ModelSpec(
            "sign_branch", "Teaching: branch on a value",
            "`if x.sum() > 0` decides the output. torch.jit.trace records only the branch taken for the "
            "example input; torch.jit.script keeps both (prim::If).",
            "vector 8 float32", "teaching", True,
            _plain(SignBranch), _seeded(8),
        ),
        ModelSpec(
            "running_loop", "Teaching: loop over a dimension",
            "`for i in range(x.size(0))` runs an RNN-like cell. torch.jit.trace unrolls the loop for the "
            "example length; torch.jit.script keeps a prim::Loop that works for any length.",
            "sequence 5x8 float32", "teaching", True,
            _plain(RunningLoop), _seeded(5, 8),
        ),
    )
}

_load_lock = threading.Lock()


def names() -> list[str]:
    """The catalogue's model names, in display order."""
    return list(MODELS)


def spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; raises :class:`UnknownModelError` with the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None


@functools.cache
def _load_cached(name: str, allow_download: bool) -> LoadedModel:
    s = spec(name)
    module, weights = s._build(allow_download)
    module.eval()
    return LoadedModel(s, module, weights)


def load(name: str, *, allow_download: bool = True) -> LoadedModel:
    """Build (once per process) the model ``name`` in eval mode.

    Args:
        name: a catalogue name, see :func:`names`.
        allow_download: try a hub (short timeout) when weights are not cached.

    Returns:
        A :class:`LoadedModel`; ``weights`` is ``"pretrained"`` or ``"random"``.
        The module is shared: callers must not train or mutate it.
    """
    spec(name)  # validate before taking the lock
    with _load_lock:
        return _load_cached(name, allow_download and not offline())


def source_text(name: str) -> tuple[str, str] | None:
    """``(label, text)`` of the file that defines model ``name``'s class (torchvision's ``resnet.py``…), or ``None``.

    The label is the path inside its package (no machine path); the app shows the text read-only, so that
    the IR's ``source_lines`` link to it as they do to pasted code.
    """
    import inspect

    from .modes.common import clean_paths

    module = load(name).module
    try:
        path = inspect.getsourcefile(type(module))
        text = Path(path).read_text(encoding="utf-8") if path else None
    except (OSError, TypeError, UnicodeDecodeError):
        return None
    return (clean_paths(path), text) if path and text is not None else None


def example_inputs(name: str) -> tuple[Any, ...]:
    """The default inputs of model ``name`` (CPU tensors)."""
    return spec(name)._inputs()
