"""Build a network from the lecture's architecture pattern.

    INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC

Grammar (whitespace is free; names are case-insensitive):

    pattern := item ('->' item)*
    item    := LAYER | '[' pattern ']' '*' count
    LAYER   := INPUT | CONV | RELU | POOL | POOL? | BN | FC | DROPOUT
    count   := an integer >= 0, or a name (N, M, K, ...) given as a keyword argument

The lecture's sizing rules: every CONV is 3×3 with stride 1 and padding 1 (the size
is kept); every POOL is a 2×2 max-pool with stride 2 (the size halves); `POOL?` is a
pool that is kept when ``optional_pool=True`` (the default) and dropped otherwise.
The i-th group of convs (the convs before the i-th pool) has ``widths[i]`` filters;
hidden FCs have ``fc_widths[j]`` units and the last FC ``num_classes``. BN is a
batch norm (2-d before the first FC, 1-d after it); DROPOUT a dropout (p = 0.5).

Example:
    >>> net = from_pattern("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC",
    ...                    in_channels=3, input_size=32, num_classes=10, widths=(32, 64, 128))
"""
from __future__ import annotations

import re

from cnnlab import nn, shapes

LAYERS = ("INPUT", "CONV", "RELU", "POOL", "POOL?", "BN", "FC", "DROPOUT")
_TOKEN = re.compile(r"\s*(->|\[|\]|\*|POOL\?|[A-Za-z_][A-Za-z_0-9]*\??|\d+)", re.ASCII)


class PatternError(ValueError):
    """A malformed pattern; the message names the position and what was expected."""


def _tokens(pattern: str):
    pos, out = 0, []
    while pos < len(pattern):
        if pattern[pos:].strip() == "":
            break
        m = _TOKEN.match(pattern, pos)
        if not m:
            raise PatternError(f"from_pattern: unexpected character {pattern[pos:].lstrip()[0]!r} at position "
                               f"{len(pattern) - len(pattern[pos:].lstrip())} of {pattern!r}")
        out.append((m.group(1), m.start(1)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, pattern: str, counts: dict):
        self.pattern, self.counts = pattern, {k.upper(): v for k, v in counts.items()}
        self.toks, self.i = _tokens(pattern), 0
        self.used, self.names = set(), {k.upper(): k for k in counts}

    def error(self, expected):
        if self.i < len(self.toks):
            tok, pos = self.toks[self.i]
            found = f"{tok!r} at position {pos}"
        else:
            found = "the end of the pattern"
        return PatternError(f"from_pattern: expected {expected}, found {found} in {self.pattern!r}")

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def sequence(self):
        layers = self.item()
        while self.peek() == "->":
            self.take()
            layers += self.item()
        return layers

    def item(self):
        tok = self.peek()
        if tok == "[":
            self.take()
            inner = self.sequence()
            if self.peek() != "]":
                raise self.error("']' or '->'")
            self.take()
            if self.peek() != "*":
                raise self.error("'*' and a repeat count after ']'")
            self.take()
            return inner * self.count()
        if tok is not None and tok.upper() in LAYERS:
            self.take()
            return [tok.upper()]
        raise self.error(f"a layer ({', '.join(LAYERS)}) or '['")

    def count(self):
        tok, pos = self.toks[self.i] if self.i < len(self.toks) else (None, None)
        if tok is None or tok in ("->", "[", "]", "*"):
            raise self.error("a repeat count (an integer or a name such as N)")
        self.take()
        if tok.isdigit():
            return int(tok)
        if tok.upper() not in self.counts:
            raise PatternError(f"from_pattern: the repeat count {tok!r} at position {pos} has no value; "
                               f"pass it as a keyword argument, e.g. {tok}=2")
        self.used.add(tok.upper())
        value = self.counts[tok.upper()]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PatternError(f"from_pattern: the repeat count {tok}={value!r} must be an int >= 0")
        return value

    def parse(self):
        layers = self.sequence()
        if self.i != len(self.toks):
            raise self.error("'->' or the end of the pattern")
        unused = [self.names[k] for k in self.counts if k not in self.used]
        if unused:
            raise PatternError(f"from_pattern: unexpected argument(s) {', '.join(sorted(unused))}: not a repeat count "
                               f"of {self.pattern!r} (a misspelled argument?)")
        return layers


def parse_pattern(pattern: str, **counts) -> list[str]:
    """The flat list of layer names a pattern expands to (repeat counts resolved from `counts`)."""
    if not isinstance(pattern, str):
        raise TypeError(f"from_pattern: pattern must be a str, got {type(pattern).__name__}")
    layers = _Parser(pattern, counts).parse()
    if not layers or layers[0] != "INPUT" or "INPUT" in layers[1:]:
        raise PatternError(f"from_pattern: a pattern starts with INPUT, once: {pattern!r}")
    if layers[-1] != "FC":
        raise PatternError(f"from_pattern: a pattern ends with the output layer FC, but this one ends with "
                           f"{layers[-1]}: {pattern!r}")
    first_fc = layers.index("FC")
    late = [name for name in layers[first_fc:] if name in ("CONV", "POOL", "POOL?")]
    if late:
        raise PatternError(f"from_pattern: {late[0]} comes after the first FC; convolutions and pools must come "
                           f"before the fully connected layers: {pattern!r}")
    return layers


def from_pattern(pattern: str, in_channels: int = 3, input_size: int = 32, num_classes: int = 10, widths=None,
                 fc_widths=None, optional_pool: bool = True, **counts) -> nn.Sequential:
    """Build an `nn.Sequential` from the lecture's pattern (see the module docstring for the grammar).

    Args:
        pattern: e.g. ``"INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC"``.
        in_channels: channels of the input images. Default: 3.
        input_size: height = width of the input images. Default: 32.
        num_classes: units of the last FC. Default: 10.
        widths: filters of the convs before the 1st, 2nd, ... pool. Default: 32, 64, 128, ... (doubling).
        fc_widths: units of the hidden FCs, in order. Default: 256 each.
        optional_pool: keep the pools written ``POOL?``. Default: True.
        **counts: values of named repeat counts such as N=2, M=3, K=1.

    Raises:
        ValueError (PatternError) for a malformed pattern, an unknown count name, too few widths,
        or a pool on a map smaller than 2×2.
    """
    layers = parse_pattern(pattern, **counts)
    modules, c, size, stage, fc_index = [], in_channels, input_size, 0, 0
    flat = False
    n_fc = layers.count("FC")
    for name in layers[1:]:
        if name == "CONV":
            if widths is not None and stage >= len(widths):
                raise PatternError(f"from_pattern: the pattern has convs in stage {stage + 1} (after {stage} pools), "
                                   f"but widths={tuple(widths)} names only {len(widths)}")
            w = widths[stage] if widths is not None else 32 * 2 ** stage
            modules.append(nn.Conv2d(c, w, 3, stride=1, padding=1))
            c = w
        elif name in ("POOL", "POOL?"):
            if name == "POOL?" and not optional_pool:
                continue
            if size < 2:
                raise PatternError(f"from_pattern: pool {stage + 1} would pool a {size}×{size} map "
                                   f"(input_size={input_size} is too small for this many pools)")
            modules.append(nn.MaxPool2d(2, 2))
            size = shapes.pool_output_size(size, 2, 2, op="from_pattern")
            stage += 1
        elif name == "RELU":
            modules.append(nn.ReLU())
        elif name == "BN":
            modules.append(nn.BatchNorm1d(c) if flat else nn.BatchNorm2d(c))
        elif name == "DROPOUT":
            modules.append(nn.Dropout(0.5))
        elif name == "FC":
            if not flat:
                modules.append(nn.Flatten())
                c, flat = c * size * size, True
            fc_index += 1
            if fc_index == n_fc:
                out = num_classes
            elif fc_widths is not None:
                if fc_index > len(fc_widths):
                    raise PatternError(f"from_pattern: the pattern has {n_fc - 1} hidden FCs, but fc_widths="
                                       f"{tuple(fc_widths)} names only {len(fc_widths)}")
                out = fc_widths[fc_index - 1]
            else:
                out = 256
            modules.append(nn.Linear(c, out))
            c = out
    return nn.Sequential(*modules)
