"""The progress of an epoch: a tqdm bar (``pip install 'cnnlab[train]'``) or, without it, plain lines.

The bar shows images done, images per second, and the running loss and the task's headline metric
(accuracy for classification).
Without tqdm, or when standard error is not a terminal (a log file, CI), a plain
line goes to ``log`` every ``every`` seconds instead.
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress"]

#: tqdm's line: the numbers take about 60 columns ("epoch 10/10 100% 00:08<00:01 7.05kimg/s, loss 0.0123 acc
#: 99.12%"), the bar takes what is left, so at 80 columns the rate, loss and accuracy are all still shown
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {rate_fmt}{postfix}"


class Progress:
    """Tell it about each batch with `update`; `close` it at the end of the epoch.

    Args:
        total: images in the epoch, or None when unknown.
        desc: what is running, e.g. ``'epoch 3/10'``.
        log: where the plain lines go (``print``). Default: print.
        every: seconds between plain lines. Default: 10.
        use_tqdm: None: tqdm when it is installed and stderr is a terminal. Default: None.
        ncols: the bar's width in columns; None: the terminal's, followed as it changes. Default: None.
    """

    def __init__(self, total, desc: str, log=print, every: float = 10.0, use_tqdm: bool | None = None,
                 ncols: int | None = None):
        self.total, self.desc, self.log, self.every = total, desc, log, every
        self.seen, self.start = 0, time.perf_counter()
        self._last_line = self.start
        self._bar = None
        if use_tqdm is None:
            use_tqdm = sys.stderr.isatty()
        if use_tqdm:
            try:
                from tqdm import tqdm
            except ImportError:  # the plain lines instead
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False,
                                 dynamic_ncols=ncols is None, ncols=ncols, bar_format=BAR_FORMAT)

    def update(self, n: int, loss: float, metric: str) -> None:
        """``n`` more images done; ``loss`` is the running mean of the epoch, ``metric`` the task's headline
        metric so far, as shown, e.g. ``'acc 99.12%'``."""
        self.seen += n
        now = time.perf_counter()
        rate = self.seen / max(now - self.start, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix_str(f"loss {loss:.4f} {metric}", refresh=False)  # tqdm shows img/s
            self._bar.update(n)  # redraws at most every 0.1 s
        elif self.log is not None and now - self._last_line >= self.every:
            self._last_line = now
            done = f"{self.seen}/{self.total}" if self.total else f"{self.seen}"
            self.log(f"{self.desc}: {done} images  loss {loss:.4f}  {metric}  {rate:.0f} img/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
