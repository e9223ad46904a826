"""The README is a valid Hugging Face Space card: its versions match the pins, its files exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _card() -> tuple[dict, str]:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n"), "the Space card's YAML block must open the README"
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def _pin(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(rf"^{re.escape(name)}==([\w.]+)", line.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def test_front_matter_is_a_gradio_space_card() -> None:
    card, _ = _card()
    for key in ("title", "emoji", "sdk", "sdk_version", "app_file", "python_version", "short_description",
                "license", "suggested_hardware"):
        assert card.get(key), f"missing {key}"
    assert card["sdk"] == "gradio"
    assert card["sdk_version"] == _pin("gradio")
    assert isinstance(card["python_version"], str)  # "3.10" as a float would read 3.1
    assert len(card["short_description"]) <= 60
    assert (ROOT / card["app_file"]).is_file()
    assert card["app_file"] != "app.py", "a top-level app.py would shadow the app package"


def test_readme_images_exist() -> None:
    _, body = _card()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", body)
    assert len(images) >= 3
    for path in images:
        assert (ROOT / path).is_file(), f"README shows {path}, which is not in the repository"
