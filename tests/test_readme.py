"""The README stays true: CI runs its test command, and its tour runs and prints what it says."""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    commands = [b.strip() for b in code_blocks("bash")]
    assert len(commands) == 2, commands  # the main job, and the tests
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci_lines == [commands[1]]
    setup, _, run = commands[1].rpartition(" && ")
    assert run == "python -m pytest" and "apt-get install -y chromium" in setup   # every set-up step, the browser too
    assert commands[0].endswith("cnnlab train")  # the main job: train LeNet-5 on MNIST with the defaults


@pytest.mark.parametrize("index", range(len(code_blocks("python"))))
def test_python_examples_run_and_print_what_their_comments_say(request, tmp_path, index):
    """Each ```python block of the README (the tour, the PyTorch weights, ...) runs as written (its /tmp/
    paths moved to a temporary folder), and each `print(...)  # comment` prints the start of the comment."""
    block = code_blocks("python")[index]
    for module in ("torch", "onnx", "onnxruntime"):     # the oracles: skipped only outside CI
        if f"import {module}" in block:
            request.getfixturevalue(module)
    expected = [m.group(1).strip() for m in re.finditer(r"^\s*print\(.*\)[ \t]+# (.*)$", block, flags=re.M)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)          # torch.onnx's legacy exporter says it is
        exec(compile(block.replace("/tmp/", f"{tmp_path}/"), "README.md", "exec"), {})
    printed = out.getvalue().strip().splitlines()
    assert len(printed) == len(expected)
    for got, comment in zip(printed, expected):
        assert comment.startswith(got), (got, comment)


def test_the_readme_has_its_tour():
    assert len(code_blocks("python")) >= 2 and "cnnlab.manual_seed(0)" in code_blocks("python")[0]


def test_the_readme_stands_on_its_own():
    """Users have the README, not the team's workspace: no pointer outside the project."""
    assert "../shared" not in README and "DESIGN.md" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):  # every relative link points into the project
        assert target.startswith(("http://", "https://")) or (ROOT / target).exists(), target
