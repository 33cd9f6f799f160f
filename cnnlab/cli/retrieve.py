"""`cnnlab retrieve`: image retrieval with a checkpoint's features (cnnlab.apps.retrieval)."""
from __future__ import annotations

from cnnlab.cli.common import Formatter, checkpoint_flag, flag_names, invert_flag, model_input
from cnnlab.messages import counted


def _retrieve(args) -> int:
    import numpy as np

    from cnnlab.apps import retrieval
    from cnnlab.train import dataset_arrays, load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    config = ckpt["config"]
    if (args.images == []) == (not args.evaluate):
        raise ValueError("give image files to search for, or --evaluate (not both)")
    if args.evaluate and args.out is not None:
        raise ValueError("--out is for the neighbours of image files, not for --evaluate")
    layer = args.layer if args.layer is not None else retrieval.default_layer(model)
    raw_gallery, gallery_images, gallery_labels = dataset_arrays(config, train=True, limit=args.limit_gallery)
    gallery = retrieval.embed(model, gallery_images, args.layer)
    if not 1 <= args.k <= len(gallery):
        raise ValueError(f"--k must be in [1, {len(gallery)}] (the gallery's size), got {args.k}")
    what = f"layer {layer!r}'s {'output' if args.layer else 'input'} ({gallery.shape[1]} values)"
    if args.evaluate:
        raw_queries, query_images, query_labels = dataset_arrays(config, train=False, limit=args.limit_queries)
        rows = [("features", retrieval.evaluate(retrieval.embed(model, query_images, args.layer), query_labels,
                                                gallery, gallery_labels, k=args.k)),
                ("raw pixels", retrieval.evaluate(retrieval.normalize(raw_queries), query_labels,
                                                  retrieval.normalize(raw_gallery), gallery_labels, k=args.k))]
        print(f"{config.model} trained on {config.dataset}, features: {what}; {len(query_labels)} test images "
              f"as queries against {len(gallery_labels)} training images")
        print(f"{'':12s} {'mAP':>7s} {f'precision@{args.k}':>14s} {f'recall@{args.k}':>11s}")
        for name, r in rows:
            print(f"{name:12s} {r['map']:7.4f} {r['precision_at_k']:14.4f} {r['recall_at_k']:11.4f}")
        return 0
    read = [model_input(path, info, args.invert) for path in args.images]      # (pixels, model input) each
    index, score = retrieval.search(retrieval.embed(model, np.stack([x for _, x in read]), args.layer), gallery,
                                    k=args.k)
    for path, row, sims in zip(args.images, index, score):
        print(f"{path}: the {counted(args.k, 'nearest training image')} by {what}:")
        for i, s in zip(row, sims):
            print(f"  #{i:<6d} {info.classes[gallery_labels[i]]:<24} similarity {s:.4f}")
    if args.out is not None:
        retrieval.save_neighbours([pixels for pixels, _ in read], raw_gallery, index, args.out)
        print(f"wrote {args.out}: each query (left) and its neighbours, most similar first")
    return 0


def _add_retrieve_parser(sub):
    rt = sub.add_parser("retrieve", help="image retrieval with a checkpoint's features",
                        formatter_class=Formatter,
                        description="Search the training images of a checkpoint's dataset by cosine similarity of\n"
                                    "the model's features (by default the input of its last linear layer, L2-\n"
                                    "normalised): with --evaluate, mAP, precision@k and recall@k of the test\n"
                                    "images as queries, beside the same search on raw pixels; with image files,\n"
                                    "their k nearest training images (and, with --out, a picture of them).",
                        epilog="examples:\n"
                               "  cnnlab retrieve --checkpoint runs/lenet5-mnist --evaluate\n"
                               "  cnnlab retrieve --checkpoint runs/lenet5-mnist digit.png --k 10 --out neighbours.png\n")
    rt.add_argument("images", nargs="*", metavar="IMAGE", help="image files to search for (PNG, JPEG, ...)")
    checkpoint_flag(rt)
    rt.add_argument("--evaluate", action="store_true",
                    help="score the search with the test images as queries (mAP, precision@k, recall@k)")
    rt.add_argument("--k", type=int, default=10, metavar="K", help="neighbours per query, and the cut-off of "
                                                                    "precision@k and recall@k (default: 10)")
    rt.add_argument("--layer", metavar="NAME", help="the layer whose output is the feature, by its name in "
                                                     "named_modules() (default: the input of the last linear layer)")
    rt.add_argument("--out", metavar="PNG", help="write the queries and their neighbours as a picture (with Pillow)")
    rt.add_argument("--limit-queries", type=int, metavar="N", help="use the first N test images only (default: all)")
    rt.add_argument("--limit-gallery", type=int, metavar="N",
                    help="search the first N training images only (default: all)")
    invert_flag(rt)
    rt.set_defaults(run=_retrieve)
    return rt


def add_parsers(sub) -> None:
    command = _add_retrieve_parser(sub)
    command.set_defaults(flags=flag_names(command))
