"""The README stays true: CI runs its test command, and its tour runs and prints what it says."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

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
    assert commands[0].endswith("cnnlab train")  # the main job: train LeNet-5 on MNIST with the defaults


def test_tour_runs_and_prints_what_its_comments_say(tmp_path, monkeypatch):
    (tour,) = code_blocks("python")
    expected = [m.group(1).strip() for m in re.finditer(r"^print\(.*\)[ \t]+# (.*)$", tour, flags=re.M)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tour.replace("/tmp/", f"{tmp_path}/"), "README.md", "exec"), {})
    printed = out.getvalue().strip().splitlines()
    assert len(printed) == len(expected)
    for got, comment in zip(printed, expected):
        assert comment.startswith(got), (got, comment)


def test_the_readme_stands_on_its_own():
    """Users have the README, not the team's workspace: no pointer outside the project."""
    assert "../shared" not in README and "DESIGN.md" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):  # every relative link points into the project
        assert target.startswith(("http://", "https://")) or (ROOT / target).exists(), target
