"""The JSON API of cnnlab serve: every endpoint against the library's own answers, every bad input a 4xx with a
JSON message (never a 500), and 200 concurrent predictions on a real uvicorn server, each answer correct."""
import asyncio
import base64
import io
import json

import numpy as np
import pytest

from cnnlab import explain, receptive_field, viz
from cnnlab.data import MNIST
from cnnlab.tools.summary import summary
from cnnlab.train import MAX_PIXELS, predict, preprocess

LENET, GAP = "lenet5-mnist", "gapnet-mnist"


@pytest.fixture(scope="module")
def digits():
    ds = MNIST(train=False)
    return np.asarray(ds.data), np.asarray(ds.targets)


def png(array, fmt="PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt)
    return out.getvalue()


def model_of(explorers, name):
    return next(e for e in explorers if e.name == name)


def library_top(e, pixels, k=5):
    """What cnnlab.train.predict says of uint8 pixels as the model sees them."""
    return predict(e.model, preprocess(pixels, e.info.mean, e.info.std)[None], k)[0]


def assert_top(answer, expected):
    assert [t["index"] for t in answer["top"]] == [j for j, _ in expected]
    np.testing.assert_allclose([t["probability"] for t in answer["top"]], [p for _, p in expected], rtol=1e-5, atol=1e-7)


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- what is served
def test_health_models_and_each_models_summary(client, explorers):
    assert ok(client.get("/api/health")) == {"status": "ok", "models": [LENET, GAP]}
    models = ok(client.get("/api/models"))["models"]
    assert [m["name"] for m in models] == [LENET, GAP]
    for m, e in zip(models, explorers):
        assert m["test_acc"] == e.metrics[-1]["test_acc"] and m["input_shape"] == [1, 28, 28]
        assert m["classes"] == MNIST.classes and m["conv_layers"] == viz.conv_layer_names(e.model)
        assert m["cam"] == (e.name == GAP)
        got = ok(client.get(f"/api/model?model={e.name}"))
        assert got["summary"] == json.loads(json.dumps(summary(e.model, (1, 1, 28, 28)).to_dict()))
    assert ok(client.get("/api/model"))["name"] == LENET   # the first is the default


def test_the_page_and_its_files_are_served_with_a_policy_that_allows_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert "http://" not in text and "https://" not in text   # no CDN, nothing fetched from the internet


def test_the_schema_lists_exactly_the_apps_routes(client, app):
    schema = ok(client.get("/api/openapi.json"))
    assert schema["openapi"].startswith("3.")
    routes = {(r.path, m.lower()) for r in app.app.routes if r.path.startswith("/api/")
              for m in (r.methods or ()) if m != "HEAD"}
    assert {(path, method) for path, item in schema["paths"].items() for method in item} == routes


# ---------------------------------------------------------------- predict: each kind of input
def test_predict_a_test_image_by_its_index(client, explorers, digits):
    for name in (LENET, GAP):
        e = model_of(explorers, name)
        answer = ok(client.post("/api/predict", json={"model": name, "sample": 3}))
        assert_top(answer, library_top(e, digits[0][3]))
        assert answer["input"]["label"] == int(digits[1][3]) and answer["input"]["pixels"] == digits[0][3].tolist()
        assert answer["top"][0]["label"] == MNIST.classes[answer["top"][0]["index"]]


def test_predict_an_uploaded_file_json_pixels_and_base64_alike(client, explorers, digits):
    e, seven = model_of(explorers, LENET), digits[0][0]
    expected = library_top(e, seven, 3)
    uploaded = ok(client.post("/api/predict", files={"image": ("seven.png", png(seven), "image/png")},
                              data={"top_k": "3"}))
    assert_top(uploaded, expected)
    assert_top(ok(client.post("/api/predict", json={"pixels": seven.tolist(), "top_k": 3})), expected)
    data_url = "data:image/png;base64," + base64.b64encode(png(seven)).decode()
    assert_top(ok(client.post("/api/predict", json={"image": data_url, "top_k": 3})), expected)
    assert uploaded["top"][0]["index"] == 7


def test_a_dark_digit_on_light_paper_is_inverted_as_predict_does_it(client, explorers, digits):
    paper = 255 - digits[0][0]
    answer = ok(client.post("/api/predict", files={"image": ("paper.jpg", png(paper), "image/png")}))
    assert answer["input"]["inverted"] and answer["input"]["pixels"] == digits[0][0].tolist()
    kept = ok(client.post("/api/predict", json={"pixels": paper.tolist(), "invert": False}))
    assert not kept["input"]["inverted"] and kept["input"]["pixels"] == paper.tolist()


def test_a_drawn_digit_is_centred_as_mnists_digits_are(client, explorers, digits):
    from cnnlab.train import center_digit

    canvas = np.zeros((280, 280), np.uint8)
    canvas[20:200, 180:200] = 255                       # a "1" drawn off-centre, in the top right
    answer = ok(client.post("/api/predict", json={"pixels": canvas.tolist(), "center": True}))
    assert answer["input"]["centered"] and answer["input"]["pixels"] == center_digit(canvas).tolist()
    assert answer["top"][0]["index"] == 1
    assert_top(answer, library_top(model_of(explorers, LENET), center_digit(canvas)))


# ---------------------------------------------------------------- the network view, explain, CAM
def test_features_are_every_layers_output(client, explorers, digits):
    for name in (LENET, GAP):
        e = model_of(explorers, name)
        answer = ok(client.post("/api/features", json={"model": name, "sample": 1}))
        expected = viz.layer_outputs(e.model, preprocess(digits[0][1], e.info.mean, e.info.std))
        assert [layer["name"] for layer in answer["layers"]] == list(expected) == [r["name"] for r in e.summary.rows]
        for layer in answer["layers"]:
            values = np.frombuffer(base64.b64decode(layer["data"]), "<f4").reshape(layer["shape"])
            np.testing.assert_array_equal(values, expected[layer["name"]])


@pytest.mark.parametrize("name, layer, at", [
    (LENET, "0", [2, 13, 7]), (LENET, "2", [5, 3, 3]), (LENET, "3", [9, 4, 6]), (LENET, "9", [17]),
    (GAP, "features.1", [3, 10, 12]), (GAP, "features.5", [7, 1, 2]), (GAP, "gap", [40, 0, 0]), (GAP, "fc", [7]),
])
def test_explain_gives_the_value_of_the_features_and_the_receptive_field(client, explorers, digits, name, layer, at):
    e = model_of(explorers, name)
    x = preprocess(digits[0][2], e.info.mean, e.info.std)
    answer = ok(client.post("/api/explain", json={"model": name, "sample": 2, "layer": layer, "at": at}))
    assert answer["value"] == float(viz.layer_outputs(e.model, x)[layer][tuple(at)]) and answer["agrees"]
    assert answer == json.loads(json.dumps({**answer, **explain.layer(e.model, x, layer, tuple(at)).to_dict()}))
    if len(at) == 3:
        region = receptive_field(e.model, (1, 1, 28, 28), tuple(at), layer)
        assert answer["receptive_field"]["clipped_start"] == list(region.clipped_start)
        assert answer["receptive_field"]["clipped_end"] == list(region.clipped_end)
    else:
        assert answer["receptive_field"] is None and answer["receptive_field_note"]


def test_a_form_takes_the_same_fields_as_json(client, digits):
    form = {"layer": "3", "at": "[1, 2, 3]", "invert": "false", "model": LENET}
    got = ok(client.post("/api/explain", files={"image": ("seven.png", png(digits[0][0]), "image/png")}, data=form))
    want = ok(client.post("/api/explain", json={"pixels": digits[0][0].tolist(), "layer": "3", "at": [1, 2, 3],
                                                "invert": False}))
    assert got == want and got["layer"] == "3" and got["at"] == [1, 2, 3]


def test_cam_and_grad_cam_are_the_librarys(client, explorers, digits):
    gap, lenet = model_of(explorers, GAP), model_of(explorers, LENET)
    x = preprocess(digits[0][4], gap.info.mean, gap.info.std)
    got = ok(client.post("/api/cam", json={"model": GAP, "sample": 4, "method": "cam", "target": 2}))
    np.testing.assert_allclose(got["map"], viz.cam(gap.model, x, 2).map, rtol=1e-6, atol=1e-6)
    assert got["target"] == 2 and got["label"] == MNIST.classes[2]
    got = ok(client.post("/api/cam", json={"model": LENET, "sample": 4, "layer": "1"}))
    want = viz.grad_cam(lenet.model, x, None, "1")
    np.testing.assert_allclose(got["map"], want.map, rtol=1e-6, atol=1e-6)
    assert got["layer"] == "1" and got["target"] == want.target and got["method"] == "gradcam"


def test_any_checkpoint_of_cnnlab_train_is_served_a_3_channel_pattern_net_too(web, tmp_path):
    from cnnlab.serve.app import create_app
    from cnnlab.train import DATASETS, TrainConfig, build_model, build_optimizer, save_checkpoint

    config = TrainConfig(model="pattern", dataset="cifar10", model_args={
        "pattern": "INPUT -> [CONV -> BN -> RELU -> POOL]*2 -> FC", "widths": [4, 8]})
    model = build_model(config.model, DATASETS["cifar10"], config.model_args)
    save_checkpoint(tmp_path / "c.safetensors", model, build_optimizer(config, model.parameters()), None, config, [])
    client = web.TestClient(create_app([tmp_path / "c.safetensors"]))
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    answer = ok(client.post("/api/predict", files={"image": ("x.jpg", png(rgb, "JPEG"), "image/jpeg")}))
    assert len(answer["input"]["pixels"][0][0]) == 3 and answer["top"][0]["label"] in DATASETS["cifar10"].classes
    features = ok(client.post("/api/features", json={"pixels": rgb.tolist()}))
    assert features["layers"][0]["shape"] == [4, 32, 32]
    e = ok(client.post("/api/explain", json={"pixels": rgb.tolist(), "layer": "0", "at": [3, 5, 6]}))
    assert e["kind"] == "conv" and e["agrees"] and len(e["element"]["channel_sums"]) == 3
    assert ok(client.post("/api/cam", json={"pixels": rgb.tolist()}))["method"] == "gradcam"
    for body, status, message in [({"sample": 0}, 404, "the test images of cifar10 can't be read here"),
                                  ({"pixels": rgb.tolist(), "center": True}, 422, "center applies to gray digits"),
                                  ({"pixels": rgb.tolist(), "method": "cam"}, 422, "needs global average pooling")]:
        response = client.post("/api/cam" if "method" in body else "/api/predict", json=body)
        assert response.status_code == status and message in response.json()["error"], response.text


# ---------------------------------------------------------------- the playground
def test_output_size_with_every_padding_rule(client):
    got = ok(client.get("/api/output-size?n=11&kernel=3&stride=2&padding=1&dilation=2"))
    want = explain.output_size(11, 3, 2, 1, 2)
    assert got["out"] == want.out == 5 and got["starts"] == list(want.starts) and got["lines"] == list(want.lines)
    same = ok(client.get("/api/output-size?n=5&kernel=4&padding=same"))       # PyTorch: the odd one after
    assert same["padding"] == [1, 2] and same["out"] == 5
    tf = ok(client.get("/api/output-size?n=6&kernel=3&stride=2&padding=same-tf"))
    assert tf["mode"] == "same-tf" and tf["padding"] == [0, 1] and tf["out"] == 3
    pool = ok(client.get("/api/output-size?n=5&kernel=2&padding=1&mode=pool&ceil_mode=true"))
    assert pool["out"] == explain.output_size(5, 2, None, 1, mode="pool", ceil_mode=True).out


def test_the_playground_computes_the_lectures_example(client):
    body = {"input": [[1, 2, 3], [4, 5, 6], [7, 8, 9]], "kernel": [[10, 20], [30, 40]], "at": [0, 1]}
    got = ok(client.post("/api/conv", json=body))
    assert got["output"] == [[370, 470], [670, 770]] and got["sum_line"] == "2×10 + 3×20 + 5×30 + 6×40 = 470"
    assert got["explanation"]["value"] == 470 and [s["out"] for s in got["sizes"]] == [2, 2]
    padded = ok(client.post("/api/conv", json={**body, "padding": "same-tf", "stride": 2, "at": [1, 1]}))
    assert padded["padded"] == [[1, 2, 3, 0], [4, 5, 6, 0], [7, 8, 9, 0], [0, 0, 0, 0]]
    assert padded["output"] == [[370, 210], [230, 90]]   # 1·10 + 2·20 + 4·30 + 5·40, 3·10 + 6·30, 7·10 + 8·20, 9·10


# ---------------------------------------------------------------- bad requests: a 4xx with a message, never a 500
def bomb() -> bytes:
    """A PNG of a few kB that decodes to more than MAX_PIXELS pixels."""
    side = int(MAX_PIXELS ** 0.5) + 1
    return png(np.zeros((side, side), np.uint8))


BAD = [
    ("not an image", "/api/predict", dict(files={"image": ("x.png", b"%PDF-1.7 not an image", "image/png")}), 422,
     "not an image file"),
    ("a decompression bomb", "/api/predict", "bomb", 422, "pixels, more than the 16,777,216 allowed"),
    ("ragged pixels", "/api/predict", dict(json={"pixels": [[1, 2], [3]]}), 422, "all rows of one length"),
    ("pixels of 4 channels", "/api/predict", dict(json={"pixels": [[[1, 2, 3, 4]]]}), 422, "got shape [1, 1, 4]"),
    ("pixels past 255", "/api/predict", dict(json={"pixels": [[0, 300]]}), 422, r"finite numbers in [0, 255]"),
    ("too many pixels", "/api/predict", dict(json={"pixels": [[0] * 1025]}), 413, "at most 1024 on a side"),
    ("no input", "/api/predict", dict(json={}), 422, "give one input"),
    ("two inputs", "/api/predict", dict(json={"sample": 1, "pixels": [[0]]}), 422, "got pixels, sample"),
    ("a sample out of range", "/api/predict", dict(json={"sample": 10000}), 422, r"sample must be an int in [0, 9999]"),
    ("top_k of 11", "/api/predict", dict(json={"sample": 1, "top_k": 11}), 422, r"top_k must be an int in [1, 10]"),
    ("a file name for an image", "/api/predict", dict(json={"image": "/etc/passwd"}), 422, "not base64"),
    ("an unknown model", "/api/predict", dict(json={"sample": 1, "model": "../lenet5"}), 404, "is not served here"),
    ("an unknown layer", "/api/explain", dict(json={"sample": 1, "layer": "features.99", "at": [0, 0, 0]}), 422,
     "is not a layer of"),
    ("a position out of range", "/api/explain", dict(json={"sample": 1, "layer": "3", "at": [16, 0, 0]}), 422,
     r"at [16, 0, 0] is outside the output (16, 10, 10) of layer '3'"),
    ("a position of the wrong length", "/api/explain", dict(json={"sample": 1, "layer": "3", "at": [0, 0]}), 422,
     "at must be (channel, i, j)"),
    ("a position that is not ints", "/api/explain", dict(json={"sample": 1, "layer": "3", "at": "0,0,0"}), 422,
     "at must be a list of ints"),
    ("explain without a layer", "/api/explain", dict(json={"sample": 1}), 422, "explain needs layer"),
    ("CAM of a model without GAP", "/api/cam", dict(json={"sample": 1, "method": "cam"}), 422,
     "needs global average pooling"),
    ("a class out of range", "/api/cam", dict(json={"sample": 1, "target": 10}), 422, r"target must be an int in [0, 9]"),
    ("an unknown method", "/api/cam", dict(json={"sample": 1, "method": "lime"}), 422, "method must be"),
    ("Grad-CAM of a vector", "/api/cam", dict(json={"sample": 1, "layer": "7"}), 422, "not maps"),
    ("malformed JSON", "/api/predict", dict(content=b"{oops", headers={"content-type": "application/json"}), 400,
     "not valid JSON"),
    ("a JSON list", "/api/predict", dict(json=[1, 2]), 400, "must be an object"),
    ("plain text", "/api/predict", dict(content=b"7", headers={"content-type": "text/plain"}), 415, "send a JSON"),
    ("a body past the limit", "/api/predict", dict(content=b" " * (4 * 2**20 + 1),
                                                   headers={"content-type": "application/json"}), 413,
     "larger than the 4,194,304 bytes allowed"),
    ("a streamed body past the limit", "/api/predict", dict(content=iter([b" " * 2**20] * 5),
                                                            headers={"content-type": "application/json"}), 413,
     "larger than the"),
    ("a kernel larger than the input", "/api/conv", dict(json={"input": [[1]], "kernel": [[1, 2], [3, 4]]}), 422,
     "kernel"),
    ("a playground input past 32", "/api/conv", dict(json={"input": [[1] * 33], "kernel": [[1]]}), 413, "at most 32"),
]


@pytest.mark.parametrize("what, path, request_args, status, message", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_4xx_with_a_json_message(client, what, path, request_args, status, message):
    if request_args == "bomb":
        request_args = dict(files={"image": ("bomb.png", bomb(), "image/png")})
    response = client.post(path, **request_args)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error and "Traceback" not in error, error


@pytest.mark.parametrize("query, message", [
    ("n=5", "needs n (the input size) and kernel"),
    ("n=0&kernel=3", "n must be an int in [1, 4096]"),
    ("n=5&kernel=3&stride=2&padding=same", "padding 'same' (PyTorch's rule) needs stride 1"),
    ("n=5&kernel=3&padding=-1", "padding must be an int >= 0, 'same' or 'same-tf'"),
    ("n=3&kernel=5", "kernel"),
    ("n=5&kernel=3&mode=sideways", "mode must be"),
])
def test_bad_output_size_queries(client, query, message):
    response = client.get(f"/api/output-size?{query}")
    assert response.status_code == 422 and message in response.json()["error"], response.text


def test_no_request_reaches_a_file_outside_the_page(client):
    for path in ("/static/../explorer.py", "/static/%2e%2e/explorer.py", "/static/..%2fapp.py", "/api/../README.md",
                 "/static/models/lenet5-mnist.safetensors"):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get("/api/predict").status_code == 405 and client.get("/nowhere").json() == {"error": "Not Found"}


# ---------------------------------------------------------------- concurrency, on a real server
def test_200_concurrent_predictions_on_a_real_server_are_all_answered_correctly(server, explorers, digits):
    import httpx

    expected = {(name, k): library_top(model_of(explorers, name), digits[0][k], 3)
                for name in (LENET, GAP) for k in range(100)}

    async def run():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=120) as http:
            requests = [http.post("/api/predict", json={"model": name, "sample": k, "top_k": 3})
                        for name, k in expected]
            return await asyncio.gather(*requests)

    answers = asyncio.run(run())
    assert len(answers) == 200
    for key, response in zip(expected, answers):
        assert response.status_code == 200, response.text
        assert_top(response.json(), expected[key])
