"""An end-to-end demo: a two-layer perceptron learns the bundled MNIST.

It uses only the core (tensors, autograd, `nn.Linear`, cross-entropy, Adam), so
it shows the whole training loop on one screen:

    for each epoch:  shuffle -> for each batch: forward, loss, zero_grad, backward, step
                     -> accuracy on the 10,000 test images
"""
from __future__ import annotations

import time

import numpy as np

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import nn, optim
from cnnlab.data import load_mnist_arrays
from cnnlab.messages import check_int, check_real


def _as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 784) standardised with MNIST's mean and std."""
    return ((images.reshape(len(images), -1).astype(np.float32) / 255.0) - 0.1307) / 0.3081


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
    """(mean cross-entropy, accuracy) of `model` on arrays x, y."""
    model.eval()
    total_loss, correct = 0.0, 0
    with cnnlab.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(cnnlab.from_numpy(x[i:i + batch_size]))
            target = cnnlab.from_numpy(y[i:i + batch_size])
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(dim=1).data == target.data).sum())
    return total_loss / len(x), correct / len(x)


def mnist_mlp(epochs: int = 3, hidden: int = 256, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
              data_dir=None, log=print) -> dict:
    """Train 784 -> hidden -> ReLU -> 10 with Adam; return the last epoch's metrics.

    Returns:
        dict with epoch, train_loss, test_loss, test_acc, seconds.

    Raises:
        ValueError (a `cnnlab.messages.SettingError`): epochs, hidden or batch_size not an int >= 1, seed not
            an int >= 0, lr not a finite number >= 0.
    """
    for name, value in (("epochs", epochs), ("hidden", hidden), ("batch_size", batch_size)):
        check_int("mnist_mlp", name, value, 1)
    check_int("mnist_mlp", "seed", seed, 0)
    check_real("mnist_mlp", "lr", lr, 0)
    cnnlab.manual_seed(seed)
    x_train, y_train = load_mnist_arrays(data_dir, train=True)
    x_test, y_test = load_mnist_arrays(data_dir, train=False)
    x_train, x_test = _as_inputs(x_train), _as_inputs(x_test)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = optim.Adam(model.parameters(), lr=lr)
    order_rng = np.random.default_rng(seed)
    metrics = {}
    for epoch in range(1, epochs + 1):
        model.train()
        start, running = time.perf_counter(), 0.0
        order = order_rng.permutation(len(x_train))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(cnnlab.from_numpy(x_train[idx])), cnnlab.from_numpy(y_train[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * len(idx)
        test_loss, test_acc = evaluate(model, x_test, y_test)
        metrics = {"epoch": epoch, "train_loss": running / len(order), "test_loss": test_loss,
                   "test_acc": test_acc, "seconds": time.perf_counter() - start}
        log(f"epoch {epoch}/{epochs}  train loss {metrics['train_loss']:.4f}  test loss {test_loss:.4f}  "
            f"test accuracy {100 * test_acc:.2f}%  ({metrics['seconds']:.1f} s)")
    return metrics
