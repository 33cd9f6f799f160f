"""A training run with a folder: `train` builds everything from a `TrainConfig`, trains, and after every epoch writes

    runs/NAME/checkpoint.safetensors   model, optimizer, scheduler, RNG state, epoch, metrics and the config
    runs/NAME/metrics.json             one object per epoch (see `cnnlab.train.loop.fit`)
    runs/NAME/curves.png               loss and accuracy curves (when matplotlib is installed)

each written atomically, so a run stopped at any moment leaves the files of its
last finished epoch. ``train(config, resume=True)`` continues from the checkpoint
and computes exactly what the uninterrupted run would have: the model, the
optimizer and the schedule come back from the checkpoint, the loader's shuffle
and augmentation of epoch k depend only on (seed, k), and cnnlab's generator
(dropout) is restored to its state at the end of the last epoch.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cnnlab import backend, manual_seed
from cnnlab.data import DataLoader, Subset
from cnnlab.io import LoadError, atomic_write_text, load, load_torch, save
from cnnlab.messages import SettingError, counted
from cnnlab.train.config import TrainConfig, build_datasets, build_model, build_optimizer, build_scheduler
from cnnlab.train.loop import fit
from cnnlab.train.tasks import TASKS

__all__ = ["train", "save_checkpoint", "strip_checkpoint", "load_checkpoint", "model_from_checkpoint", "read_run_config",
           "import_weights", "CHECKPOINT", "METRICS", "CURVES", "CHECKPOINT_FORMAT"]

CHECKPOINT, METRICS, CURVES = "checkpoint.safetensors", "metrics.json", "curves.png"
CHECKPOINT_FORMAT = "cnnlab.train/1"


def save_checkpoint(path, model, optimizer, scheduler, config: TrainConfig, history: list) -> None:
    """Write everything a resume needs to ``path`` atomically, as a safetensors file (`cnnlab.save`)."""
    save({"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "epoch": len(history),
          "metrics": [dict(row) for row in history], "model": model.state_dict(),
          "optimizer": optimizer.state_dict(), "scheduler": None if scheduler is None else scheduler.state_dict(),
          "rng": backend.generator().bit_generator.state}, path)


def load_checkpoint(path) -> dict:
    """The dict that `save_checkpoint` wrote; ``path`` may also be the run folder.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file can't be read, is not a safetensors file, or is not a cnnlab training checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = load(path)
    except OSError as e:
        raise ValueError(f"can't read the checkpoint {path}: {e.strerror or e}") from None
    except LoadError as e:  # say first what the file is not, then what is wrong with it
        detail = f"not a safetensors file: {e.problem}" if e.not_safetensors else e.problem
        raise ValueError(f"{path} is not a cnnlab training checkpoint ({detail})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is a safetensors file but not a cnnlab training checkpoint "
                         f"(one written by `cnnlab train`, format {CHECKPOINT_FORMAT!r})")
    missing = [k for k in ("config", "epoch", "metrics", "model", "optimizer", "scheduler", "rng") if k not in ckpt]
    if missing or not isinstance(ckpt["config"], dict):
        raise ValueError(f"{path}: the checkpoint is incomplete (no {missing[0] if missing else 'config'!r})")
    ckpt["config"] = TrainConfig.from_dict(ckpt["config"]).resolved()
    ckpt["path"] = path
    return ckpt


def strip_checkpoint(source, out) -> Path:
    """Write the checkpoint ``source`` (a file or run folder) to ``out`` without its optimizer state (about a
    third of its size with Adam's two moments): the model, the settings, the epoch and the metrics stay, so
    eval, predict, the tools and ``cnnlab serve`` take it; ``train --resume`` refuses it (it has no optimizer
    state to continue from). The file is written atomically; its folder must exist.

    Returns:
        ``out`` as a Path.

    Raises:
        FileNotFoundError, ValueError: as `load_checkpoint`.
    """
    ckpt = load_checkpoint(source)
    ckpt.pop("path")
    out = Path(out)
    save({**ckpt, "config": ckpt["config"].to_dict(), "optimizer": None, "scheduler": None}, out)
    return out


def read_run_config(out) -> TrainConfig:
    """The settings of the run whose folder (or checkpoint file) is ``out``."""
    return load_checkpoint(out)["config"]


def model_from_checkpoint(ckpt: dict):
    """(model in eval mode with the checkpoint's weights, DatasetInfo of its training set); the model is that
    of the checkpoint's task (``ckpt["config"].task``)."""
    config = ckpt["config"]
    task = TASKS[config.task]
    info = task.datasets[config.dataset]
    model = build_model(config.model, info, config.model_args, task, config)
    _load_weights(model, ckpt["model"], ckpt["path"], config.model)
    return model.eval(), info


def _some(keys: list, limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _load_weights(model, state, source, name) -> None:
    """model.load_state_dict(state), strictly, with what does not fit said in one short sentence."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    resized = [f"{k} is {tuple(state[k].shape)} in the file but {tuple(expected[k].shape)} in the model"
               for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = ([f"{counted(len(missing), 'key')} missing ({_some(missing)})"] if missing else []) + \
               ([f"{counted(len(unexpected), 'key')} unexpected ({_some(unexpected)})"] if unexpected else []) + \
               resized[:3]
    if problems:
        raise ValueError(f"{source}: the weights don't fit {name}: " + "; ".join(problems))
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as e:
        problem = " ".join(str(e).split())  # load_state_dict lists its problems on several lines
        raise ValueError(f"{source}: the weights don't fit {name}: {problem}") from None


def import_weights(source, out, config: TrainConfig, key: str | None = None) -> Path:
    """Turn a foreign weights file into a training checkpoint that eval, predict, resume and the tools accept.

    The model is `config.model` built for `config.dataset` (its channels, image size and classes), and
    the weights must fit it exactly: every key of its state dict, with its shape (PyTorch's names, as
    the zoo's). The checkpoint records 0 epochs, a fresh optimizer of `config`, and `config` itself.

    Args:
        source: a ``torch.save`` file (.pt/.pth) or a safetensors file (`cnnlab.io.load_torch` reads it), or
            an ONNX file (.onnx: its initializers, by name; the ``[onnx]`` extra).
        out: the checkpoint file to write (atomically); its folder is made if needed.
        config: the model, its arguments and the dataset (the rest as for `cnnlab train`).
        key: the entry of a nested checkpoint that holds the state dict (e.g. ``"model"``).

    Returns:
        The checkpoint's path.

    Raises:
        ValueError: the file can't be read, holds no flat state dict (without `key`), or its weights
            don't fit the model.
    """
    config = config.resolved()
    task = TASKS[config.task]
    info = task.datasets[config.dataset]
    model = build_model(config.model, info, config.model_args, task, config)
    if str(source).endswith(".onnx"):
        from cnnlab.onnx import initializers

        state = initializers(source)
    else:
        state = load_torch(source, key=key)
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        found = ", ".join(repr(k) for k in list(state)[:6]) if isinstance(state, dict) else type(state).__name__
        raise SettingError("import", f"{source} holds a nested checkpoint ({found}), not a state dict: pick the "
                                     "entry of the weights with {key}", "key")
    _load_weights(model, state, source, config.model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, model, build_optimizer(config, model.parameters()), None, config, [])
    return out


def _check_resume(config: TrainConfig, saved: TrainConfig, path) -> None:
    changed = [f.name for f in dataclasses.fields(TrainConfig)
               if f.name not in TrainConfig.RESUMABLE_CHANGES and getattr(config, f.name) != getattr(saved, f.name)]
    if changed:
        name = changed[0]
        free = TrainConfig.RESUMABLE_CHANGES
        raise SettingError("resume", f"{{{name}}} is {getattr(config, name)!r}, but the run in {path} was made with "
                           f"{getattr(saved, name)!r}; a resumed run keeps its settings (only "
                           f"{', '.join('{' + f + '}' for f in free)} may change)", name, *free)


def train(config: TrainConfig, resume: bool = False, log=print, progress: bool = True) -> list[dict]:
    """Train ``config.model`` on ``config.dataset`` as the config says; return the metrics of every epoch.

    With ``config.distributed`` every rank of ``mpiexec -n W`` calls this with the same settings
    (checked: a rank that disagrees stops them all with a message). Rank r trains on its
    `DistributedSampler` share, batch_size / W images of every global batch of batch_size, with
    the gradients averaged (`DistributedDataParallel`), so the steps are those of one process;
    the ranks evaluate disjoint parts of the test set and the metrics are reduced
    (`all_reduce_metrics`). Only rank 0 logs and writes the run folder; a resume may use
    another W (the global batch stays batch_size). Settings that differ between the ranks, or a
    batch_size that W does not divide, raise ValueError on every rank before any work; after that,
    an exception on any rank stops every rank (`stop_all_on_error`).

    Args:
        config: the settings (see `TrainConfig`); with ``config.out`` set, the run folder is written.
        resume: continue the run in ``config.out`` from its checkpoint. ``config`` must have the
            run's settings (`read_run_config`); only where the files are may differ. Default: False.
        log: where the lines of the run go; None for silence. Default: print.
        progress: show a progress bar during each epoch. Default: True.

    Example:
        >>> history = train(TrainConfig(epochs=1, limit_train=512, limit_test=256), log=None)
        >>> sorted(history[-1])
        ['epoch', 'images_per_second', 'seconds', 'test_acc', 'test_loss', 'train_acc', 'train_loss']
    """
    config = config.resolved()
    if not config.distributed:
        return _run(config, resume, log, progress, None)
    from cnnlab import distributed

    rank, world = distributed.init()
    # errors that every rank finds alike, before any work: each rank raises the same
    distributed.check_same({**config.to_dict(), "resume": resume}, "the settings", "train")
    if config.batch_size % world:
        raise SettingError("train", f"{{batch_size}} (the global batch) must be a multiple of the {world} ranks, "
                           f"got {config.batch_size}", "batch_size")
    with distributed.stop_all_on_error():   # from here on a rank may fail alone: then all must stop
        return _run(config, resume, log if rank == 0 else None, progress and rank == 0, distributed)


def _run(config: TrainConfig, resume: bool, log, progress: bool, distributed) -> list[dict]:
    """`train`, in one process (``distributed`` None) or as one rank (the module `cnnlab.distributed`)."""
    out = None if config.out is None else Path(config.out)
    if resume and out is None:
        raise ValueError("resume: give the run folder (out) to resume from")
    ckpt = load_checkpoint(out / CHECKPOINT) if resume else None
    if ckpt is not None:
        _check_resume(config, ckpt["config"], out)
        if ckpt["optimizer"] is None:
            raise ValueError(f"resume: {ckpt['path']} holds no optimizer state (strip_checkpoint took it out): it "
                             "can be evaluated and used, not resumed")
    rank, world = (0, 1) if distributed is None else (distributed.get_rank(), distributed.get_world_size())

    manual_seed(config.seed)  # the init draws from cnnlab's generator
    task = TASKS[config.task].configured(config)
    train_set, test_set, info = build_datasets(config)
    model = build_model(config.model, info, config.model_args, task, config)
    if distributed is None:
        train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                                  prefetch=config.prefetch)
        test_shard = test_set
    else:   # rank r: its share of every global batch, and every W-th test image
        if config.sync_batchnorm:
            model = distributed.convert_sync_batchnorm(model)
        sampler = distributed.DistributedSampler(train_set, world, rank, shuffle=True, seed=config.seed)
        train_loader = DataLoader(train_set, batch_size=config.batch_size // world, sampler=sampler,
                                  seed=config.seed, prefetch=config.prefetch)
        test_shard = Subset(test_set, range(rank, len(test_set), world))
    test_loader = DataLoader(test_shard, batch_size=task.eval_batch_size(test_set, config), prefetch=config.prefetch)
    optimizer = build_optimizer(config, model.parameters())
    scheduler, per_batch = build_scheduler(config, optimizer, len(train_loader))

    history = []
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        backend.generator().bit_generator.state = ckpt["rng"]
        history = [dict(row) for row in ckpt["metrics"]]
        if log is not None:
            log(f"resuming {out} after epoch {ckpt['epoch']} of {config.epochs}")
    trained = model if distributed is None else distributed.DistributedDataParallel(model)
    if out is not None and rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    title = f"{config.model} on {config.dataset}"
    notes = set()

    def write_run_files(history):
        save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, config, history)
        atomic_write_text(out / METRICS, json.dumps(history, indent=1) + "\n")
        try:
            from cnnlab.viz.curves import plot_curves
            m = task.headline
            plot_curves(history, out / CURVES, title, metric=m, label=task.describe(m), percent=m in task.fractions)
        except ModuleNotFoundError as e:
            if (e.name or "").partition(".")[0] != "matplotlib":
                raise
            if log is not None and "curves" not in notes:
                log(f"note: {CURVES} skipped: matplotlib is not installed (pip install 'cnnlab[train]')")
            notes.add("curves")

    if log is not None and len(history) < config.epochs:
        ranks = "" if distributed is None else f" on {world} ranks of {config.batch_size // world} images a step"
        log(f"training {title}: {len(train_set)} training and {len(test_set)} test images, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, {counted(config.epochs, 'epoch')}, "
            f"{config.optimizer} lr {config.lr:g}, schedule {config.schedule}{ranks}"
            + (f"; writing {out}" if out else ""))
    first = len(history)
    fit(trained, train_loader, test_loader, optimizer, config.epochs, scheduler, per_batch, start_epoch=len(history),
        history=history, on_epoch_end=write_run_files if out is not None and rank == 0 else None,
        progress=progress, log=log, reduce_metrics=None if distributed is None else distributed.all_reduce_metrics,
        task=task, new_meter=lambda: task.meter(info, config))
    if log is not None:
        last, m = history[-1], task.headline
        log(f"test {task.describe(m)}: {task.format(m, last[f'test_{m}'])} on the {len(test_set):,} {info.name} "
            f"test images after {counted(last['epoch'], 'epoch')}")
        if distributed is not None:
            trained_seconds = sum(row["seconds"] for row in history[first:])
            log(f"rank 0 waited {trained.communication_seconds:.1f} s for the gradients of the other ranks "
                f"({trained.communication_seconds / max(trained_seconds, 1e-9):.1%} of the run's "
                f"{trained_seconds:.1f} s)")
    return history
