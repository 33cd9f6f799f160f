"""Super-resolution data: the luminance channel, Pillow's bicubic resizing, the photographs and the digits.

The protocol of SRCNN (Dong et al., 2014) and ESPCN (Shi et al., 2016), as SRCNN's MATLAB
evaluation code (demo_SR.m) runs it, with Pillow's bicubic filter in place of MATLAB's imresize:

1. Y, the luminance of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` computes it for 8-bit RGB:
   Y = 16 + (65.481·R + 128.553·G + 24.966·B) / 255, rounded to an integer in [16, 235].
   A grayscale image counts as R = G = B = its gray value g, so Y = 16 + 219·g / 255.
2. modcrop: the image cut at its bottom and right to multiples of the scale s.
3. HR = Y / 255 (float32, in [16/255, 235/255]); LR = HR shrunk by s with Pillow's bicubic filter
   (which widens its kernel by s when it shrinks, as imresize does: the LR is antialiased); the
   LR is not rounded (imresize of the float image, as in demo_SR.m).
4. The baseline: the LR enlarged by s with Pillow's bicubic filter (`bicubic_baseline`).

The model sees one channel, Y, and predicts the HR Y from the LR Y (models that work on an
enlarged input, SRCNN, enlarge it themselves). Samples are ``(LR (1, h, w), HR (1, s·h, s·w))``
float32 pairs:

- `SRPatches`: random aligned patches of training images (a new draw every epoch, from the
  loader's generator, so a seed fixes them), each HR patch shrunk on its own;
- `SRImages`: whole images, each modcropped (the test sets, and the MNIST digits).

`skimage_sr` builds them from the natural photographs that ship inside scikit-image's wheel
(no download: `SKIMAGE_TRAIN` and `SKIMAGE_TEST` are the fixed split), `mnist_sr` from the
bundled MNIST digits, 14×14 -> 28×28.
"""
from __future__ import annotations

import numpy as np

from cnnlab.data.dataset import Dataset
from cnnlab.data.transforms import current_generator
from cnnlab.messages import MissingExtraError

__all__ = ["SKIMAGE_TRAIN", "SKIMAGE_TEST", "rgb_to_ycbcr", "ycbcr_to_rgb", "luminance", "modcrop",
           "bicubic_resize", "downscale", "bicubic_baseline", "skimage_photo", "SRPatches", "SRImages",
           "skimage_sr", "mnist_sr"]

#: the photographs of scikit-image's wheel that train (8 images, 2.2 million pixels) ...
SKIMAGE_TRAIN = ("astronaut", "brick", "coins", "grass", "gravel", "moon", "motorcycle", "rocket")
#: ... and the held-out ones that test; the wheel's other pictures are drawings, scans, microscopy,
#: a motion-blurred clock, the right half of the motorcycle's stereo pair, or mostly black sky (hubble)
SKIMAGE_TEST = ("camera", "chelsea", "coffee")

# MATLAB's rgb2ycbcr: [Y, Cb, Cr] = OFFSET + MATRIX @ [R, G, B] / 255, for R, G, B in [0, 255]
_OFFSET = np.array([16.0, 128.0, 128.0])
_MATRIX = np.array([[65.481, 128.553, 24.966],
                    [-37.797, -74.203, 112.0],
                    [112.0, -93.786, -18.214]])


def _image(image, op: str) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"{op}: image must be uint8 (H, W) gray or (H, W, 3) RGB, got {a.dtype} {a.shape}")
    return a


def _round(x) -> np.ndarray:
    """To uint8 as MATLAB's uint8() does: round half away from zero, saturate at 0 and 255."""
    return np.clip(np.floor(np.asarray(x, dtype=np.float64) + 0.5), 0, 255).astype(np.uint8)


def rgb_to_ycbcr(image) -> np.ndarray:
    """uint8 RGB (H, W, 3) (or gray (H, W), as R = G = B) -> float64 (H, W, 3) Y, Cb, Cr, not rounded.

    ITU-R BT.601 with MATLAB's ``rgb2ycbcr`` scaling: Y in [16, 235], Cb and Cr in [16, 240].
    """
    a = _image(image, "rgb_to_ycbcr").astype(np.float64)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return _OFFSET + a @ (_MATRIX.T / 255.0)                     # (H, W, 3)


def ycbcr_to_rgb(ycbcr) -> np.ndarray:
    """float (H, W, 3) Y, Cb, Cr (the scaling of `rgb_to_ycbcr`) -> uint8 RGB (H, W, 3), rounded and clipped."""
    a = np.asarray(ycbcr, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"ycbcr_to_rgb: ycbcr must be (H, W, 3), got {a.shape}")
    return _round((a - _OFFSET) @ (np.linalg.inv(_MATRIX).T * 255.0))    # (H, W, 3)


def luminance(image) -> np.ndarray:
    """Step 1 of the module docstring: uint8 RGB (H, W, 3) or gray (H, W) -> uint8 Y (H, W) in [16, 235]."""
    a = _image(image, "luminance")
    if a.ndim == 2:                                 # a table of the 256 gray values' Y
        return _round(16.0 + np.arange(256) * (219.0 / 255.0))[a]   # 219 = 65.481 + 128.553 + 24.966
    return _round(16.0 + a.astype(np.float64) @ (_MATRIX[0] / 255.0))


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """The image cut at its bottom and right to multiples of ``scale`` (MATLAB's modcrop of SRCNN's code)."""
    h, w = image.shape[:2]
    return image[:h - h % scale, :w - w % scale]


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise MissingExtraError("super-resolution: bicubic resizing needs Pillow: pip install 'cnnlab[apps]'") from None
    return Image


def _resize_rows(rows: np.ndarray, width: int) -> np.ndarray:
    """Pillow's horizontal bicubic pass alone: each row of a 2-d float32 array resized to ``width``."""
    Image = _pillow()
    return np.asarray(Image.fromarray(rows, mode="F").resize((width, rows.shape[0]), Image.Resampling.BICUBIC))


def bicubic_resize(images, size) -> np.ndarray:
    """Resize a 2-d image (H, W), or a batch (N, H, W), to ``size`` = (height, width) with Pillow's bicubic
    filter (Keys' cubic with a = -0.5, its support widened by the factor when shrinking), in float32.

    Pillow resizes the rows, then the columns, in float32 ('F' images). So does this, for a whole batch
    in two calls: the images stacked one above the other for the rows (rows are resized independently),
    then side by side for the columns: each image gets exactly what Pillow gives it alone.
    """
    a = np.asarray(images, dtype=np.float32)
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise ValueError(f"bicubic_resize: images must be (H, W) or (N, H, W), not empty, got shape {a.shape}")
    h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ValueError(f"bicubic_resize: size must be two ints >= 1, got {size!r}")
    batch = a.reshape(-1, *a.shape[-2:])                                     # (N, H, W)
    n, H, W = batch.shape
    if w != W:
        batch = _resize_rows(batch.reshape(n * H, W), w).reshape(n, H, w)    # (N, H, w)
    if h != H:
        side_by_side = np.ascontiguousarray(batch.transpose(2, 0, 1).reshape(w * n, H))   # (w·N, H): rows = columns
        batch = _resize_rows(side_by_side, h).reshape(w, n, h).transpose(1, 2, 0)         # (N, h, w)
    return np.ascontiguousarray(batch).reshape(a.shape[:-2] + (h, w))


def downscale(hr, scale: int) -> np.ndarray:
    """The LR of an HR image (H, W) or batch (N, H, W) whose sides are multiples of ``scale``: Pillow's
    bicubic, shrunk by ``scale``."""
    h, w = np.shape(hr)[-2:]
    if h % scale or w % scale or h < scale or w < scale:
        raise ValueError(f"downscale: the image's sides must be positive multiples of the scale {scale}, "
                         f"got {h}×{w} (modcrop it first)")
    return bicubic_resize(hr, (h // scale, w // scale))


def bicubic_baseline(lr, scale: int) -> np.ndarray:
    """The LR image (h, w) or batch (N, h, w) enlarged ``scale`` times with Pillow's bicubic filter: what a
    model must beat."""
    h, w = np.shape(lr)[-2:]
    return bicubic_resize(lr, (h * scale, w * scale))


def _hr(image, scale: int) -> np.ndarray:
    """uint8 RGB or gray -> the modcropped HR Y / 255, float32 (H, W)."""
    return modcrop(luminance(image), scale).astype(np.float32) / np.float32(255)


def skimage_photo(name: str) -> np.ndarray:
    """One photograph of ``skimage.data`` as uint8 (H, W) or (H, W, 3), read from scikit-image's wheel.

    ``'motorcycle'`` is the left image of ``stereo_motorcycle``. Only the images of
    `SKIMAGE_TRAIN` and `SKIMAGE_TEST` are taken: they ship in the wheel (no download).
    """
    if name not in SKIMAGE_TRAIN + SKIMAGE_TEST:
        raise ValueError(f"skimage_photo: unknown photograph {name!r}; choose from "
                         f"{', '.join(SKIMAGE_TRAIN + SKIMAGE_TEST)}")
    try:
        import skimage.data
    except ImportError:
        raise MissingExtraError("super-resolution on skimage's photographs needs scikit-image: "
                                "pip install 'cnnlab[apps]'") from None
    if name == "motorcycle":
        return np.asarray(skimage.data.stereo_motorcycle()[0])
    return np.asarray(getattr(skimage.data, name)())


def _check_scale(owner: str, scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 2:
        raise ValueError(f"{owner}: scale must be an int >= 2, got {scale!r}")
    return int(scale)


class SRPatches(Dataset):
    """Random aligned patches of training images: ``(LR (1, p, p), HR (1, s·p, s·p))`` float32 pairs.

    Item i is a new random patch at every call: the image is drawn with probability proportional
    to its number of patch positions, then a position uniformly, then (with ``augment``) one of
    the 8 flips and quarter turns; the HR patch is shrunk on its own (`downscale`). The draws come
    from the generator in use (`cnnlab.data.transforms.current_generator`: the DataLoader's epoch
    generator), so a loader's seed fixes every epoch's patches.

    Args:
        images: HR images, 2-d float arrays (Y / 255), each at least s·p on both sides.
        scale: s, an int >= 2.
        patch_size: p, the side of the LR patch. Default: 17 (ESPCN's 17·s HR patches).
        length: patches per epoch. Default: 4096.
        augment: random flips and quarter turns. Default: False.
    """

    classes: list = []

    def __init__(self, images, scale: int, patch_size: int = 17, length: int = 4096, augment: bool = False):
        self.scale = _check_scale("SRPatches", scale)
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(f"SRPatches: patch_size must be an int >= 1, got {patch_size!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"SRPatches: length must be an int >= 1, got {length!r}")
        self.images = [np.asarray(a, dtype=np.float32) for a in images]
        self.patch_size, self.length, self.augment = patch_size, length, bool(augment)
        side = patch_size * self.scale
        for k, a in enumerate(self.images):
            if a.ndim != 2 or min(a.shape) < side:
                raise ValueError(f"SRPatches: image {k} must be 2-d and at least {side}×{side} "
                                 f"(patch_size {patch_size} × scale {self.scale}), got shape {a.shape}")
        if not self.images:
            raise ValueError("SRPatches: give at least one image")
        positions = np.array([(a.shape[0] - side + 1) * (a.shape[1] - side + 1) for a in self.images], np.float64)
        self._weights = positions / positions.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        lr, hr = self.get_batch([index])
        return lr[0], hr[0]

    def get_batch(self, indices):
        """A batch of ``len(indices)`` new random patches: [LR (N, 1, p, p), HR (N, 1, s·p, s·p)]."""
        n = len(indices)
        for i in indices:
            if not -self.length <= int(i) < self.length:
                raise IndexError(f"SRPatches: index {int(i)} is out of range for {self.length} patches")
        rng, side = current_generator(), self.patch_size * self.scale
        which = rng.choice(len(self.images), size=n, p=self._weights)
        corners = rng.random((n, 2))
        turns = rng.integers(0, 8, size=n) if self.augment else np.zeros(n, np.int64)
        hr = np.empty((n, 1, side, side), np.float32)
        for k in range(n):
            image = self.images[which[k]]
            top, left = (corners[k] * (np.array(image.shape) - side + 1)).astype(np.int64)
            patch = image[top:top + side, left:left + side]
            hr[k, 0] = np.rot90(patch[:, ::-1] if turns[k] >= 4 else patch, turns[k] % 4)
        return [downscale(hr[:, 0], self.scale)[:, None], hr]             # (N, 1, p, p), (N, 1, s·p, s·p)


class SRImages(Dataset):
    """Whole images: ``(LR (1, h, w), HR (1, s·h, s·w))`` float32 pairs, each HR modcropped and shrunk.

    Args:
        images: uint8 RGB (H, W, 3) or gray (H, W) images (a list, or one (N, H, W) array).
        scale: s, an int >= 2.
        names: a name for each image (kept as ``names``). Default: their indices.

    Attributes:
        hr, lr: the HR and LR images (2-d float32 arrays); names; same_size: whether every image has
        the same size (then a DataLoader can stack them into batches).
    """

    classes: list = []

    def __init__(self, images, scale: int, names=None):
        self.scale = _check_scale("SRImages", scale)
        if isinstance(images, np.ndarray) and images.ndim == 3 and images.dtype == np.uint8:   # (N, H, W) gray
            n, h, w = images.shape
            y = luminance(images.reshape(n * h, w)).reshape(n, h, w)[:, :h - h % self.scale, :w - w % self.scale]
            self.hr = list(y.astype(np.float32) / np.float32(255))
        else:
            self.hr = [_hr(image, self.scale) for image in images]
        for k, a in enumerate(self.hr):
            if min(a.shape) < self.scale:
                raise ValueError(f"SRImages: image {k} is smaller than the scale {self.scale}: {a.shape}")
        self.same_size = len({a.shape for a in self.hr}) == 1
        self.lr = list(downscale(np.stack(self.hr), self.scale)) if self.same_size else \
            [downscale(a, self.scale) for a in self.hr]
        self.names = [str(k) for k in range(len(self.hr))] if names is None else list(names)
        if len(self.names) != len(self.hr):
            raise ValueError(f"SRImages: {len(self.names)} names for {len(self.hr)} images")

    def __len__(self) -> int:
        return len(self.hr)

    def __getitem__(self, index):
        return self.lr[index][None], self.hr[index][None]

    def get_batch(self, indices):
        """[LR (N, 1, h, w), HR (N, 1, H, W)] when every image has the same size, else None (one by one)."""
        if not self.same_size:
            return None
        return [np.stack([self.lr[int(i)][None] for i in indices]), np.stack([self.hr[int(i)][None] for i in indices])]


def skimage_sr(train: bool, scale: int, patch_size: int = 17, length: int = 4096, augment: bool = False):
    """The photographs of scikit-image: `SRPatches` of `SKIMAGE_TRAIN` (train) or `SRImages` of `SKIMAGE_TEST`."""
    if train:
        hr = [_hr(skimage_photo(name), scale) for name in SKIMAGE_TRAIN]
        return SRPatches(hr, scale, patch_size, length, augment)
    return SRImages([skimage_photo(name) for name in SKIMAGE_TEST], scale, names=SKIMAGE_TEST)


def mnist_sr(train: bool, scale: int = 2, root=None, limit: int | None = None) -> SRImages:
    """MNIST's digits as `SRImages`: 14×14 -> 28×28 at scale 2 (at scale 3 each digit is modcropped
    to 27×27 and shrunk to 9×9).

    Args:
        train: the 60,000 training digits or the 10,000 test digits.
        scale: s. Default: 2.
        root: the MNIST folder; None: the bundled copy.
        limit: the first ``limit`` digits only. Default: all.
    """
    from cnnlab.data.datasets import MNIST

    digits = MNIST(root, train=train).data[:limit]
    return SRImages(digits, scale)
