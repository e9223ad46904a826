from __future__ import annotations

import pytest
import torch

from jit_explorer import zoo
from jit_explorer.errors import UnknownModelError


def test_catalogue_has_the_issue_models() -> None:
    names = zoo.names()
    for n in ("resnet18", "mobilenet_v3_small", "bert-base-uncased", "gru", "sign_branch", "running_loop"):
        assert n in names
    assert {zoo.spec(n).family for n in names} >= {"vision", "nlp", "sequence", "teaching"}


def test_unknown_model_lists_choices() -> None:
    with pytest.raises(UnknownModelError, match="resnet18"):
        zoo.spec("resnet1000")


def test_bert_input_is_the_blog_sentence_tokenized_offline() -> None:
    ids, mask, segments = zoo.example_inputs("bert-base-uncased")
    assert mask.tolist() == [[1] * 14]
    assert ids.tolist() == [[101, 2040, 2001, 3958, 27227, 1029, 102, 3958, 27227, 2001, 1037, 13997, 11510, 102]]
    assert segments.tolist() == [[0] * 7 + [1] * 7]


def test_offline_falls_back_to_random_weights_and_says_so() -> None:
    assert zoo.offline()  # conftest sets JIT_EXPLORER_OFFLINE
    loaded = zoo.load("resnet18")
    assert loaded.weights == "random"
    assert not loaded.module.training
    (x,) = loaded.inputs()
    assert x.shape == (1, 3, 224, 224)
    with torch.inference_mode():
        assert loaded.module(x).shape == (1, 1000)


def test_load_is_cached() -> None:
    assert zoo.load("gru").module is zoo.load("gru").module


def test_teaching_modules_behave_differently_per_input() -> None:
    m = zoo.load("sign_branch").module
    assert torch.equal(m(torch.ones(3)), torch.full((3,), 2.0))
    assert torch.equal(m(-torch.ones(3)), torch.full((3,), -2.0))
    loop = zoo.load("running_loop").module
    assert loop(torch.randn(7, 8)).shape == (8,)


def test_source_text_is_the_models_own_file_without_machine_paths() -> None:
    found = zoo.source_text("resnet18")
    assert found is not None
    label, text = found
    assert label == "torchvision/models/resnet.py" and "class ResNet(nn.Module):" in text
