"""cnnlab.viz.curves.plot_metrics_file: a run's curves from its metrics.json (curves_figure is tested with train)."""
from __future__ import annotations

import json

import pytest
from helpers import requires

from cnnlab.viz import curves

HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.2 / e, "train_acc": 0.8 + e / 100,
            "test_acc": 0.78 + e / 100} for e in (1, 2, 3)]


@requires("matplotlib", "viz")
def test_plot_metrics_file_from_the_file_or_the_run_folder(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(HISTORY))
    assert curves.plot_metrics_file(tmp_path / "metrics.json", tmp_path / "a.png") == tmp_path / "a.png"
    assert curves.plot_metrics_file(tmp_path, tmp_path / "b.png", title="run") == tmp_path / "b.png"
    assert (tmp_path / "a.png").read_bytes() == curves.curves_png(HISTORY)
    assert (tmp_path / "b.png").read_bytes() == curves.curves_png(HISTORY, "run")


@pytest.mark.parametrize("content, error, message", [
    (None, FileNotFoundError, r"^plot_metrics_file: no metrics file at .*/metrics.json$"),
    ("{not json", ValueError, r"^plot_metrics_file: .*/metrics.json is not a JSON file: "),
    ('{"epoch": 1}', ValueError, r"^plot_metrics_file: .*/metrics.json must hold a list of one object per epoch, "
                                 r"got dict$"),
    ("[]", ValueError, r"^plot_curves: history is empty \(no epoch finished yet\)$"),
])
def test_plot_metrics_file_refuses_what_is_not_a_run_history(tmp_path, content, error, message):
    if content is not None:
        (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(error, match=message):
        curves.plot_metrics_file(tmp_path, tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()
