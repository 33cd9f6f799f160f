"""Image retrieval with a trained CNN's features: embed, search by cosine similarity, and score the ranking.

    embed     the output of a chosen layer (default: the input of the model's last linear layer, the
              features the classifier reads), flattened and L2-normalised: one unit vector per image
    search    exact k-nearest neighbours by cosine similarity: the queries' dot products with the gallery,
              one chunk of queries at a time (a (chunk × gallery) block, never a dense N × N matrix)
    evaluate  mean average precision over the whole ranked gallery, precision@k and recall@k, where a
              gallery image is relevant to a query when their labels are equal

For one query with R relevant gallery images, ranked by similarity (ties by gallery order), and rel_j = 1
when the j-th ranked image is relevant:

    AP = (1/R) Σ_j rel_j · (Σ_{i<=j} rel_i) / j        precision@k = (Σ_{j<=k} rel_j) / k
    recall@k = (Σ_{j<=k} rel_j) / R                    mAP = the mean of AP over the queries
"""
from __future__ import annotations

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.nn import Linear

__all__ = ["embed", "search", "evaluate", "normalize", "default_layer", "save_neighbours"]

_CHUNK = 256        # queries per block of similarities: 256 × a 60,000-image gallery is 61 MB in float32


def normalize(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero), as float32."""
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1)


def default_layer(model) -> str:
    """The name of the model's last `Linear` layer (whose input `embed` takes by default)."""
    names = [name for name, m in model.named_modules() if isinstance(m, Linear)]
    if not names:
        raise ValueError("retrieval: the model has no Linear layer; name the layer to embed with layer=")
    return names[-1]


def embed(model, images, layer: str | None = None, batch_size: int = 1000) -> np.ndarray:
    """Unit feature vectors of `images` from one layer of `model`.

    Args:
        model: a trained network (put in eval mode here).
        images: (N, C, H, W) float32, preprocessed as the model's training images.
        layer: the name (as in ``model.named_modules()``) of the layer whose output is the feature;
            None: the input of the last Linear layer.
        batch_size: images per forward pass.

    Returns:
        (N, D) float32, each row of unit L2 norm.
    """
    modules = dict(model.named_modules())
    if layer is not None and layer not in modules:
        known = ", ".join(repr(n) for n in modules if n)
        raise ValueError(f"retrieval: the model has no layer {layer!r}; its layers are {known}")
    target = modules[layer if layer is not None else default_layer(model)]
    caught = []
    if layer is None:
        handle = target.register_forward_pre_hook(lambda m, args: caught.append(args[0].data))
    else:
        handle = target.register_forward_hook(lambda m, args, out: caught.append(out.data))
    model.eval()
    images = np.asarray(images, dtype=np.float32)
    try:
        with no_grad():
            for start in range(0, len(images), batch_size):
                model(Tensor(images[start:start + batch_size]))
    finally:
        handle.remove()
    return normalize(np.concatenate([c.reshape(len(c), -1) for c in caught]))


def _similarities(queries, gallery):
    """Cosine similarities of unit vectors, one block of queries at a time: yields (slice, (q, G) block)."""
    for start in range(0, len(queries), _CHUNK):
        part = slice(start, start + _CHUNK)
        yield part, queries[part] @ gallery.T                                  # (q, G)


def _check(queries, gallery, k):
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"retrieval: queries and gallery must be (N, D) with one D, got {queries.shape} and "
                         f"{gallery.shape}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(gallery):
        raise ValueError(f"retrieval: k must be an int in [1, {len(gallery)}] (the gallery's size), got {k!r}")


def search(queries: np.ndarray, gallery: np.ndarray, k: int = 10):
    """The k most similar gallery rows of each query (unit vectors: cosine similarity).

    Returns:
        (indices (Q, k) int64, similarities (Q, k)), most similar first, ties in gallery order.
    """
    _check(queries, gallery, k)
    index, score = [], []
    for _, sims in _similarities(queries, gallery):
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]                      # (q, k)
        index.append(top)
        score.append(np.take_along_axis(sims, top, axis=1))
    return np.concatenate(index).astype(np.int64), np.concatenate(score)


def evaluate(queries, query_labels, gallery, gallery_labels, k: int = 10) -> dict:
    """mAP over the whole ranked gallery, precision@k and recall@k (the module docstring's formulas).

    Args:
        queries, gallery: unit feature vectors (Q, D) and (G, D) (`embed` or `normalize`).
        query_labels, gallery_labels: (Q,) and (G,) class labels; equal labels are relevant.
        k: the cut-off of precision@k and recall@k.

    Returns:
        dict with ``map``, ``precision_at_k``, ``recall_at_k``, ``k``, ``queries`` and ``gallery`` (sizes).
        A query with no relevant gallery image counts 0 in every mean.
    """
    queries, gallery = np.asarray(queries), np.asarray(gallery)
    _check(queries, gallery, k)
    query_labels, gallery_labels = np.asarray(query_labels), np.asarray(gallery_labels)
    if query_labels.shape != (len(queries),) or gallery_labels.shape != (len(gallery),):
        raise ValueError(f"retrieval: one label per row, got {query_labels.shape} labels for {len(queries)} queries "
                         f"and {gallery_labels.shape} for {len(gallery)} gallery images")
    ap, hits_at_k, relevant = [], [], []
    ranks = np.arange(1, len(gallery) + 1)
    for part, sims in _similarities(queries, gallery):
        order = np.argsort(-sims, axis=1, kind="stable")                          # (q, G): the ranking
        rel = gallery_labels[order] == query_labels[part, None]                     # (q, G) bool
        hits = np.cumsum(rel, axis=1)                                               # relevant up to rank j
        total = hits[:, -1].copy()                     # copies: a view would keep the whole (q, G) block alive
        ap.append(np.where(total > 0, (rel * hits / ranks).sum(axis=1) / np.maximum(total, 1), 0.0))
        hits_at_k.append(hits[:, k - 1].copy())
        relevant.append(total)
    hits_at_k, relevant = np.concatenate(hits_at_k), np.concatenate(relevant)
    return {"map": float(np.concatenate(ap).mean()), "precision_at_k": float((hits_at_k / k).mean()),
            "recall_at_k": float(np.where(relevant > 0, hits_at_k / np.maximum(relevant, 1), 0.0).mean()),
            "k": k, "queries": len(queries), "gallery": len(gallery)}


def save_neighbours(queries, gallery, index, path, scale: int = 3, gap: int = 8) -> None:
    """A PNG with one row per query: the query's pixels, then those of its neighbours, most similar first.

    Args:
        queries: uint8 images, (H, W) or (H, W, 3) each, as the model saw them.
        gallery: the gallery's uint8 images (N, H, W) or (N, H, W, 3).
        index: (Q, k) gallery indices (`search`).
        path: the PNG file, written atomically.
        scale: each pixel drawn as scale × scale. gap: pixels between the query and its neighbours.

    Raises:
        MissingExtraError: Pillow is not installed.
    """
    import io

    from cnnlab.io import atomic_write_bytes
    from cnnlab.messages import MissingExtraError

    try:
        from PIL import Image
    except ImportError:
        raise MissingExtraError("retrieval: drawing the neighbours needs Pillow: pip install 'cnnlab[viz]'") from None
    rows = []
    for query, row in zip(queries, np.asarray(index)):
        tiles = [np.asarray(query)] + [np.asarray(gallery[i]) for i in row]
        h = tiles[0].shape[0]
        spacer = np.full((h, gap) + tiles[0].shape[2:], 255, np.uint8)
        rows.append(np.concatenate([tiles[0], spacer] + tiles[1:], axis=1))
    picture = np.concatenate([np.concatenate([r, np.full((2,) + r.shape[1:], 255, np.uint8)]) for r in rows])
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
