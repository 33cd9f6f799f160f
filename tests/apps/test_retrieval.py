"""cnnlab.apps.retrieval: embeddings from a chosen layer, exact cosine search, and mAP / precision@k / recall@k
against brute-force loops on small data (ties and queries without relevant images included)."""
import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.apps import retrieval


def brute_force(queries, qlabels, gallery, glabels, k):
    aps, precisions, recalls = [], [], []
    for q, label in zip(queries, qlabels):
        sims = [float(np.dot(q, g)) for g in gallery]
        order = sorted(range(len(gallery)), key=lambda i: (-sims[i], i))
        rel = [glabels[i] == label for i in order]
        R = sum(rel)
        hits, ap = 0, 0.0
        for j, r in enumerate(rel, 1):
            if r:
                hits += 1
                ap += hits / j
        aps.append(ap / R if R else 0.0)
        precisions.append(sum(rel[:k]) / k)
        recalls.append(sum(rel[:k]) / R if R else 0.0)
    return np.mean(aps), np.mean(precisions), np.mean(recalls)


@pytest.mark.parametrize("seed", range(4))
def test_metrics_equal_a_brute_force_ranking(seed):
    rng = np.random.default_rng(seed)
    gallery = retrieval.normalize(rng.standard_normal((40, 5)))
    gallery[5] = gallery[3]                                      # a tie
    queries = retrieval.normalize(rng.standard_normal((13, 5)))
    queries[0] = gallery[3]
    glabels, qlabels = rng.integers(0, 4, 40), rng.integers(0, 5, 13)   # label 4: no relevant gallery image
    for k in (1, 5, 40):
        got = retrieval.evaluate(queries, qlabels, gallery, glabels, k=k)
        want = brute_force(queries, qlabels, gallery, glabels, k)
        assert got["map"] == pytest.approx(want[0], rel=1e-6)
        assert got["precision_at_k"] == pytest.approx(want[1], rel=1e-6)
        assert got["recall_at_k"] == pytest.approx(want[2], rel=1e-6)
        assert (got["k"], got["queries"], got["gallery"]) == (k, 13, 40)


def test_search_returns_the_most_similar_first_ties_in_gallery_order():
    gallery = retrieval.normalize(np.array([[1.0, 0], [0, 1], [1, 0], [1, 1], [-1, 0]]))
    index, score = retrieval.search(retrieval.normalize(np.array([[1.0, 0.1]])), gallery, k=4)
    assert index.tolist() == [[0, 2, 3, 1]]
    assert score[0, 0] == pytest.approx(score[0, 1]) and score[0, 1] > score[0, 2] > score[0, 3]


def test_a_perfect_embedding_has_map_one():
    labels = np.repeat(np.arange(3), 4)
    features = retrieval.normalize(np.eye(3)[labels] + 1e-3 * np.random.default_rng(0).standard_normal((12, 3)))
    assert retrieval.evaluate(features, labels, features, labels, k=4)["map"] == pytest.approx(1.0)


def lenet_like():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 7), nn.ReLU(),
                         nn.Linear(7, 3))


def test_embed_takes_the_input_of_the_last_linear_layer_by_default():
    cnnlab.manual_seed(0)
    model = lenet_like()
    x = np.random.default_rng(1).standard_normal((5, 1, 6, 6)).astype(np.float32)
    features = retrieval.embed(model, x, batch_size=2)                        # 3 batches
    with cnnlab.no_grad():
        want = model[4](model[3](model[2](model[1](model[0](cnnlab.tensor(x)))))).numpy()   # (5, 7)
    np.testing.assert_allclose(features, retrieval.normalize(want), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-6)
    assert retrieval.default_layer(model) == "5"
    conv = retrieval.embed(model, x, layer="0")                              # a named layer's output
    assert conv.shape == (5, 2 * 4 * 4)


def test_errors_name_the_rule():
    model = lenet_like()
    with pytest.raises(ValueError, match=r"^retrieval: the model has no layer 'fc'; its layers are '0', '1'"):
        retrieval.embed(model, np.zeros((1, 1, 6, 6)), layer="fc")
    with pytest.raises(ValueError, match=r"^retrieval: the model has no Linear layer; name the layer"):
        retrieval.embed(nn.Sequential(nn.Conv2d(1, 1, 1)), np.zeros((1, 1, 2, 2)))
    g = retrieval.normalize(np.eye(3))
    with pytest.raises(ValueError, match=r"^retrieval: k must be an int in \[1, 3\] \(the gallery's size\), got 4$"):
        retrieval.search(g, g, k=4)
    with pytest.raises(ValueError, match=r"^retrieval: queries and gallery must be \(N, D\) with one D"):
        retrieval.search(np.zeros((2, 4)), g, k=1)
    with pytest.raises(ValueError, match=r"^retrieval: one label per row"):
        retrieval.evaluate(g, [0, 1], g, [0, 1, 2], k=1)


def test_evaluate_holds_one_block_of_rankings_at_a_time():
    """A regression test: a view of each block's cumulative hits kept every (256 × G) block alive, so the
    memory grew with the number of queries (5.7 GB for MNIST's 10,000 queries)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    gallery = retrieval.normalize(rng.standard_normal((4000, 8)))
    queries = retrieval.normalize(rng.standard_normal((4096, 8)))
    tracemalloc.start()
    retrieval.evaluate(queries, rng.integers(0, 5, 4096), gallery, rng.integers(0, 5, 4000), k=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    block = 256 * 4000 * 8                      # one (chunk × gallery) int64 array
    assert peak < 10 * block, f"{peak / block:.1f} blocks"   # 16 blocks (4096 / 256) were kept before the fix
