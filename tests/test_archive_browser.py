"""The "Open a .pt" tab in a real browser (Debian chromium driven by playwright), and /inspect_archive via
gradio_client.

A scripted module with a data-dependent branch is uploaded: the tab shows its methods, the
highlighted graph with the ``prim::If``, and the migration with ``torch.cond`` and parity. A
``torch.save`` checkpoint is refused in one sentence.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from test_browser import LONG, SHOTS, context, open_app  # noqa: F401 - a fixture and helpers of the suite

pytestmark = pytest.mark.browser
warnings.filterwarnings("ignore", category=FutureWarning)


class Gate(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return torch.relu(self.fc(x))
        return self.fc(x) * -2.0

    @torch.jit.export
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


@pytest.fixture(scope="module")
def gate_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "gate.pt"
    torch.jit.save(torch.jit.script(Gate()), str(path))
    return path


def _open_tab(ctx: Any, app_url: str) -> Any:
    page = open_app(ctx, app_url)
    page.get_by_role("tab", name="Open a .pt").click()
    page.locator("#archive-file").wait_for(state="visible")
    return page


def test_open_a_pt_shows_methods_graph_and_migration(context: Any, app_url: str, gate_pt: Path) -> None:  # noqa: F811
    page = _open_tab(context, app_url)
    page.locator("#archive-file input[type=file]").set_input_files(str(gate_pt))
    page.locator("#archive-summary").wait_for(timeout=LONG)
    summary = page.locator("#archive-summary").inner_text()
    assert "gate.pt" in summary and "TorchScript archive" in summary and "logits" in summary
    assert "@torch.jit.export" in page.locator("#archive-methods").inner_text()
    # the graph pane is highlighted and keeps the branch
    page.locator("#archive-graph .jx-code").wait_for()
    assert page.locator('#archive-graph .jx-code span.jx-op[data-op="prim::If"]').count() == 1
    # migration: torch.cond and parity
    parity = page.locator("#archive-parity").inner_text()
    assert "same outputs" in parity and "2 input draws" in parity
    body = page.locator("#archive-migration").inner_text()
    assert "torch.cond" in body and "method logits(x: Tensor) -> Tensor" in body
    assert "torch.ops.higher_order.cond" in (page.locator("#archive-migration .jx-code").first.text_content() or "")
    # the inputs box got the spec guessed from the first layer's weights
    assert page.locator("#archive-inputs textarea, #archive-inputs input").first.input_value() == "float32[2, 8]"
    # another method's views
    box = page.locator("#archive-method input")
    box.click()
    page.locator("ul[role=listbox] li", has_text="logits").first.click()
    page.get_by_role("tab", name="Code").last.click()
    page.locator("#archive-code .jx-code", has_text="def logits").wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "archive-tab.png"), full_page=True)
    # the .pt2 download
    page.locator("#archive-downloads").get_by_text("Download the exported program").click()
    page.click("#archive-pt2-btn")
    page.locator("#archive-download a").first.wait_for(timeout=LONG)
    assert "gate.pt2" in page.locator("#archive-download").inner_text().replace("\n", "")
    assert "AOTIModelPackageLoader" in page.locator("#archive-aoti-snippet").inner_text()


def test_a_checkpoint_is_refused_in_one_sentence(context: Any, app_url: str, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "weights.pt"
    torch.save({"fc.weight": torch.ones(4, 8)}, path)
    page = _open_tab(context, app_url)
    page.locator("#archive-file input[type=file]").set_input_files(str(path))
    failed = page.locator("#archive-notice .jx-failed")
    failed.wait_for(timeout=LONG)
    text = failed.inner_text()
    assert "weights.pt was not opened" in text and "torch.save checkpoint" in text and "load_state_dict" in text
    assert page.locator("#archive-migration").inner_text().strip() == ""


def test_inspect_archive_api_with_gradio_client(app_url: str, gate_pt: Path) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    d = client.predict(handle_file(str(gate_pt)), api_name="/inspect_archive")
    assert d["ok"] and d["file"] == "gate.pt"
    assert {m["name"] for m in d["methods"]} == {"forward", "logits"}
    assert d["migration"]["ok"] and d["migration"]["parity"] is True
    assert any(c["kind"] == "cond" for c in d["migration"]["changes"])
