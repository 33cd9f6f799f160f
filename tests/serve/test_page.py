"""The page of cnnlab serve in headless Chromium (Playwright, with Debian's chromium; nothing downloaded): draw a
digit and see its class on top, click a feature-map value and see the explanation's sum equal to it, switch on
Grad-CAM and see the overlay, move a playground slider and see the output size change. Screenshots go to
test-artifacts/serve/ (or $CNNLAB_TEST_ARTIFACTS/serve/)."""
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from helpers import needed

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")   # Debian's package (apt-get install chromium), as .ci/run installs it
ARTIFACTS = Path(os.environ.get("CNNLAB_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "serve"
TIMEOUT = 30_000   # ms: the shared machines are slow at times


@dataclass
class Page:
    page: object
    base: str
    requests: list = field(default_factory=list)
    errors: list = field(default_factory=list)


@pytest.fixture(scope="module")
def browser():
    def load():
        from playwright.sync_api import sync_playwright

        if not CHROMIUM.exists():
            raise ImportError(f"no browser at {CHROMIUM} (apt-get install chromium)")
        return sync_playwright

    sync_playwright = needed("Playwright and Debian's chromium", load)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def ui(browser, server):
    """One page of the served app, loaded (the first test image shown), for the whole module."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    ui = Page(page, server)
    page.on("request", lambda r: ui.requests.append(r.url))
    page.on("pageerror", lambda e: ui.errors.append(str(e)))
    page.on("console", lambda m: ui.errors.append(m.text) if m.type == "error" and "(Unprocessable" not in m.text
            else None)   # a 422 is an answer the page shows (the playground's refusals), not an error of the page
    page.set_default_timeout(TIMEOUT)
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready]")
    yield ui
    page.close()


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def draw(ui, strokes):
    """Draw strokes (lists of points as fractions of the pad) with the mouse; wait until the page has the answers."""
    page = ui.page
    page.click("#clear")
    ready = page.get_attribute("body", "data-ready")
    box = page.locator("#pad").bounding_box()
    for points in strokes:
        xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
            for t in np.linspace(0, 1, 8)[1:]:
                page.mouse.move(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        page.mouse.up()
    page.wait_for_selector(f"body:not([data-ready='{ready}'])")


def circle(cx, cy, rx, ry, n=24):
    return [(cx + rx * np.sin(a), cy - ry * np.cos(a)) for a in np.linspace(0, 2 * np.pi, n)]


DIGITS = {
    "1": [[(0.52, 0.12), (0.48, 0.88)]],
    "7": [[(0.22, 0.18), (0.78, 0.18), (0.42, 0.88)]],
    "0": [circle(0.5, 0.5, 0.24, 0.36)],
}


@pytest.mark.parametrize("digit", list(DIGITS))
def test_a_digit_drawn_with_the_mouse_is_on_top(ui, digit):
    draw(ui, DIGITS[digit])
    top = ui.page.locator("#top li").first
    assert top.get_attribute("data-index") == digit, ui.page.inner_text("#top")
    assert "centred" in ui.page.inner_text("#input-note")
    ui.page.locator("#input-panel").screenshot(path=str(ARTIFACTS / f"drawn-{digit}.png"))


def number(text: str) -> float:
    return float(text.replace("−", "-"))


@pytest.mark.parametrize("layer, kind", [("3", "Conv2d"), ("2", "MaxPool2d"), ("4", "ReLU"), ("9", "Linear")])
def test_a_clicked_value_is_explained_and_the_sum_is_the_value(ui, layer, kind):
    page = ui.page
    canvas = page.locator(f".layer[data-layer='{layer}'] .tile canvas").nth(0 if layer == "9" else 5)
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.55, "y": box["height"] * 0.45})
    expect(page.locator("#explain")).to_contain_text(f"{layer} ({kind}) output")
    assert number(page.inner_text("#explain-sum")) == pytest.approx(number(page.inner_text("#explain-value")),
                                                                   rel=1e-5, abs=1e-6)
    assert "the layer's output is the same" in page.inner_text("#explain")
    if kind == "MaxPool2d":
        assert page.locator("#explain td.won").count() == 1
    if kind != "Linear":   # the receptive field is outlined on the input
        expect(page.locator("#overlay")).to_have_attribute("data-drawn", "true")
        assert "its receptive field: input rows" in page.inner_text("#explain")
    page.locator("#explain-panel").screenshot(path=str(ARTIFACTS / f"explain-{kind}.png"))


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_grad_cam_overlays_the_input(ui):
    page = ui.page
    page.select_option("#cam-method", "off")
    expect(page.locator("#cam-note")).to_have_text("")
    before = pixels(page.locator(".seen").screenshot())
    page.select_option("#cam-method", "gradcam")
    expect(page.locator("#cam-note")).to_contain_text("Grad-CAM of layer 4 for class")
    after = pixels(page.locator(".seen").screenshot(path=str(ARTIFACTS / "gradcam.png")))
    assert np.abs(after - before).sum(axis=2).astype(bool).mean() > 0.05   # the map covers part of the input
    page.select_option("#cam-layer", "0")
    expect(page.locator("#cam-note")).to_contain_text("Grad-CAM of layer 0 for class")


def test_the_playground_starts_with_the_lectures_example_and_follows_its_sliders(ui):
    page = ui.page
    expect(page.locator("#pg-out")).to_have_text("2×2")
    assert page.inner_text("#pg-output").split() == ["370", "470", "670", "770"]
    assert page.inner_text("#pg-sum") == "1×10 + 2×20 + 4×30 + 5×40 = 370"
    page.click("#pg-next")
    expect(page.locator("#pg-sum")).to_have_text("2×10 + 3×20 + 5×30 + 6×40 = 470")
    page.fill("#pg-k", "3")
    expect(page.locator("#pg-out")).to_have_text("1×1")
    assert "k = 3" in page.inner_text("#pg-lines")
    page.fill("#pg-n", "6")
    page.fill("#pg-s", "2")
    page.select_option("#pg-mode", "same-tf")
    expect(page.locator("#pg-out")).to_have_text("3×3")        # TensorFlow: ⌈6/2⌉
    page.select_option("#pg-mode", "same")
    expect(page.locator("#pg-error")).to_contain_text("needs stride 1")
    page.select_option("#pg-preset", "lecture")
    expect(page.locator("#pg-out")).to_have_text("2×2")
    page.locator("#playground").screenshot(path=str(ARTIFACTS / "playground.png"))


def test_the_other_model_has_cam_and_the_summary_table(ui):
    page = ui.page
    page.select_option("#model", "gapnet-mnist")
    expect(page.locator("#model-info")).to_contain_text("gapnet trained on mnist")
    expect(page.locator("#summary-table")).to_contain_text("features.0 (Conv2d)")
    page.select_option("#cam-method", "cam")
    expect(page.locator("#cam-note")).to_contain_text("CAM for class")
    rows = page.locator("#layers .layer")
    expect(rows).to_have_count(15)   # every layer of the GAP net (widths 32, 64) has its row
    page.select_option("#model", "lenet5-mnist")
    expect(page.locator("#summary-table")).to_contain_text("11 (Linear)")


def test_the_page_asked_nothing_of_another_server_and_logged_no_error(ui):
    draw(ui, DIGITS["7"])
    page = ui.page
    page.select_option("#cam-method", "gradcam")
    expect(page.locator("#cam-note")).to_contain_text("Grad-CAM")
    canvas = page.locator(".layer[data-layer='0'] .tile canvas").nth(1)
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.3})
    expect(page.locator("#explain")).to_contain_text("0 (Conv2d) output")
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "page-top.png"), full_page=True, clip={"x": 0, "y": 0, "width": 1400,
                                                                                 "height": 1250})
    assert ui.requests and all(url.startswith((ui.base + "/", "data:")) for url in ui.requests), ui.requests
    assert ui.errors == []
