"""The `cnnlab` command. Wiring only: the work is done by the library."""
from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from cnnlab.demo import mnist_mlp

    metrics = mnist_mlp(epochs=args.epochs, hidden=args.hidden, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed, data_dir=args.data_dir)
    print(f"test accuracy: {100 * metrics['test_acc']:.2f}% on the 10,000 MNIST test images")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlab", description="cnnlab: a CNN system you can read end to end.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a two-layer perceptron on the bundled MNIST and print test accuracy",
                          description="Train 784 -> hidden -> ReLU -> 10 with Adam on MNIST (bundled, offline).")
    demo.add_argument("--epochs", type=int, default=3, help="passes over the 60,000 training images (default 3)")
    demo.add_argument("--hidden", type=int, default=256, help="width of the hidden layer (default 256)")
    demo.add_argument("--batch-size", type=int, default=128, help="images per step (default 128)")
    demo.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    demo.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (default 0)")
    demo.add_argument("--data-dir", default=None,
                      help="folder with the four MNIST IDX files (default: the copy bundled with cnnlab)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"cnnlab {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
