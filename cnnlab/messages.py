"""How cnnlab words what it tells a user: counted nouns, and errors that name a setting.

A setting has two names: the argument of the Python function (``batch_size``)
and the flag of the command line (``--batch-size``). A `SettingError` keeps
its message as a template with the setting's place marked, so that Python
callers read the argument's name and ``cnnlab`` prints the flag's:

    >>> e = SettingError("TrainConfig", "{batch_size} must be an int >= 1, got 0", "batch_size")
    >>> str(e)
    'TrainConfig: batch_size must be an int >= 1, got 0'
    >>> e.with_flags({"batch_size": "--batch-size"})
    '--batch-size must be an int >= 1, got 0'
"""
from __future__ import annotations

import math
import numbers

__all__ = ["counted", "SettingError", "MissingExtraError", "check_int", "check_real"]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``counted(1, "channel")`` -> '1 channel', ``counted(3, "channel")`` -> '3 channels'."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


class SettingError(ValueError):
    """A ValueError about settings, named by their argument in ``str()`` and by their flag in `with_flags`.

    Args:
        owner: what took the settings (``TrainConfig``, ``mnist_mlp``): the prefix of the Python message.
        template: the message, each setting written ``{name}``.
        *settings: the names used in ``template``.
        **python_names: how Python calls a setting where that is not its bare name (``download="download=True"``).
    """

    def __init__(self, owner: str, template: str, *settings: str, **python_names: str):
        self.owner, self.template, self.settings = owner, template, settings
        super().__init__(f"{owner}: {self._named({name: python_names.get(name, name) for name in settings})}")

    def with_flags(self, flags: dict) -> str:
        """The message with each setting named by ``flags[name]`` (its flag), without the owner's prefix."""
        return self._named({name: flags.get(name, name) for name in self.settings})

    def _named(self, names: dict) -> str:
        text = self.template  # replaced, not str.format: the values quoted in a message may hold braces
        for name, shown in names.items():
            text = text.replace("{" + name + "}", shown)
        return text


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra brings it
    (``plot_filters: needs matplotlib: pip install 'cnnlab[viz]'``)."""


def check_int(owner: str, name: str, value, low: int, allow_none: bool = False) -> None:
    """Raise a SettingError unless ``value`` is an int >= ``low`` (or None, where allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise SettingError(owner, f"{{{name}}} must be an int >= {low}, got {value!r}", name)


def check_real(owner: str, name: str, value, low: float, allow_none: bool = False) -> None:
    """Raise a SettingError unless ``value`` is a finite number >= ``low`` (or None, where allowed)."""
    if value is None and allow_none:
        return
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < low):
        raise SettingError(owner, f"{{{name}}} must be a finite number >= {low}, got {value!r}", name)
