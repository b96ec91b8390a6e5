"""Configuration: plain dataclasses with the paper's defaults, YAML files and dotted overrides.

Each component receives its own sub-config (``ModelConfig`` for the model, ``TrainConfig`` for
the loop, ...), never the whole ``ExperimentConfig``, so a component's inputs are visible in
its signature. ``load_config`` merges, in order: the defaults, a YAML file, ``key.sub=value``
overrides (values parsed as YAML, so ``train.lr=3e-4`` is a float and ``seeds=[0,1]`` a list).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class FeatureConfig:
    """How the skeleton-derived context stream is computed from poses (see ``features``)."""

    layout: str = "coco18"  # joint layout of the pose stream (a name in skeleton.LAYOUTS)
    velocities: bool = True  # append per-joint velocities (frame differences) of the normalised pose
    distances: bool = True  # append pairwise joint distances within each person (scale invariant)
    coords: int = 2  # coordinates per joint in the pose stream: 2 (x, y) or 3 (x, y, z, e.g. Kinect); a channel
    # after them is the confidence (so C = coords or coords + 1; a 3rd channel is never guessed)
    min_confidence: float = 0.1  # joints with a confidence channel below this count as missing
    long_motion: int = 0  # > 0: also each joint's displacement over this many frames (DD-Net's fast motion: 2)
    person_order: str = "slots"  # "slots": persons as the pose tracker numbered them; "left_right": by position
    hold_missing: bool = False  # a person missing in a frame keeps its last seen pose
    per_person: bool = False  # descriptor: each person centred on its own root, plus the roots' offsets
    context: str = "auto"  # "auto": the dataset's context stream if every clip has one, else the skeleton
    # descriptor; "skeleton": always the skeleton descriptor (CNN features on disk are then ignored)


@dataclass
class AugmentConfig:
    """Random transformations applied to each training clip, fresh every epoch."""

    enabled: bool = False  # master switch (off: training sees the clips as they are)
    scale: float = 0.1  # scale factor drawn from [1 - scale, 1 + scale], per axis
    rotation: float = 15.0  # rotation angle drawn from [-rotation, rotation] degrees
    mirror: float = 0.0  # probability of a left-right mirror image (x negated, left/right joints swapped)
    noise: float = 0.01  # Gaussian joint noise, in body sizes (torso lengths)
    speed: float = 0.2  # playback speed drawn from [1 - speed, 1 + speed]
    prefix: float = 0.0  # probability of keeping only a random prefix (>= 50 %) of the clip


@dataclass
class ExtractConfig:
    """Video -> clips: which pose and context streams ``earlyact extract`` computes."""

    backbone: str = "efficientnet-lite0"  # context CNN (a name in backbones.BACKBONES); "" = no context
    runtime: str = "onnxruntime"  # runs the backbone: "onnxruntime" (same features, 2x+ faster on CPU) or "torch"
    max_persons: int = 2  # persons tracked per video (UT-Interaction: 2)
    detect_every: int = 1  # while fewer than max_persons are tracked, run the person detector every k frames
    min_presence: float = 0.3  # BlazePose's "person in this region" score below which a tracked person is lost
    mask_held: bool = False  # while a person is missing, detect once more with the held persons masked out
    # (pose.MultiPersonPose; measured on UT-Interaction in docs/experiments.md, stop 29)
    target_fps: float = 0.0  # resample to this frame rate; 0 keeps the video's own
    workers: int = 1  # worker processes (each with its own pose estimator and CNN)
    allow_partial: bool = False  # keep the decodable part of a corrupt or truncated video
    batch_size: int = 16  # frames per CNN batch


@dataclass
class ActionNetConfig:
    """The skeleton network of the paper's Fig. 3, whose LSTM hidden state is the action feature."""

    point_channels: tuple[int, int] = (64, 32)  # conv1, conv2: 1x1 convolutions over coordinates
    global_channels: int = 64  # convolution across joints (joints moved into channels)
    embed: int = 256  # size of the flattened per-frame vector (paper: 256)
    hidden: int = 256  # LSTM hidden units = action-feature size (paper: 256)
    dropout: float = 0.2  # dropout on the per-frame embedding during training


@dataclass
class ContextNetConfig:
    """Causal temporal CNN over the skeleton descriptor: stage 1's learned context on pose-only data.

    The pose-only counterpart of the paper's ImageNet CNN: a network pretrained as a classifier
    whose per-frame embedding is the context stream (see ``context_nets.ContextNet``).
    """

    channels: int = 0  # base width f (blocks of f, 2f, 4f channels); 0 = stage 1 reads the descriptor itself
    dropout: float = 0.1  # channel dropout after every convolution
    head_dropout: float = 0.5  # dropout in the classifier head
    padding: str = "zeros"  # before frame 0: "zeros", or "first" (frame 0 held: a short prefix reads as a still clip)
    window: int = 0  # > 0: DD-Net over each frame's observed prefix resampled to this many frames (a multiple
    # of 4; context_nets.WindowNet) instead of the causal temporal CNN
    span: int = 64  # the window net's prefix is at most the last this many frames (long streams stay O(1))
    prefixes: int = 4  # window net training: prefix ends drawn per clip and batch (all frames on validation)
    prefix_min: float = 0.0  # window net training: prefixes cover at least this share of the clip (1: whole
    # clips only, DD-Net's own training; 0.1: the shortest prefix the ratios read)
    prefix_frames_min: int = 0  # window net training: prefixes at least this many frames long (a shorter clip: whole;
    # 0: any): with speed_twin the method predicts only from window frames on (docs/experiments.md, stop 31)
    prefix_frames_max: int = 0  # window net training: prefixes at most this many frames long (0: any; wins over the
    # two bounds above); set on the twin by twin_prefixes
    duration: bool = False  # window rows also carry log(frames observed / span): how much of the action was seen
    positions: bool = False  # window rows also carry each joint's root-centred, body-scaled coordinates
    # (DD-Net reads distances and motion only: blind to which way the body faces or points)
    local_motion: bool = False  # window motion channels of the root-centred joints (else DD-Net's: of the
    # joints in the frame, the body's travel included)
    real_motion: bool = False  # window motion per frame observed (x (window - 1) / (frames - 1)), not per
    # resampled window step: the speed that resampling a short prefix to the window scales away
    stretched_speed: bool = False  # window motion per frame observed while the prefix is shorter than the window
    # (stretched to it, DD-Net's motion per step shrinks by (frames - 1) / (window - 1): the speed is hidden just
    # when little is seen), DD-Net's per step once it is as long or longer; the scale max(1, (window - 1) /
    # (frames - 1)) is continuous at frames = window (docs/experiments.md, stop 30)
    frame_motion: bool = False  # window rows also carry the motion per frame observed, read with the distances,
    # beside DD-Net's motion per window step (real_motion replaces it)
    cross: bool = False  # window rows also carry each pair of persons' cross-person proximity, 1 / (1 + d) for the
    # distance d (body sizes) between every joint of one and every joint of the other: where two people stand and
    # touch, which each body's own distances and motion leave out (a missing joint reads 0, "not near")
    label_smoothing: float = 0.0  # training targets: this share spread over all classes (0: one-hot)
    mixup: float = 0.0  # window net training: > 0 blends each batch with itself shuffled, inputs and targets
    # alike, the weight drawn from Beta(mixup, mixup) per batch (0: off)
    members: int = 1  # > 1: an ensemble of this many window nets (own initialisations; context_nets.WindowEnsemble)
    speed_members: bool = False  # an ensemble's odd members read the motion per frame observed (real_motion),
    # the even ones DD-Net's: the body's speed tells most early on, the motion relative to the time seen later
    distill: float = 0.0  # window net training: weight of the whole-clip distillation, each training prefix's
    # embedding pulled (squared distance, mean over units) towards the net's own embedding of the whole clip
    # (no gradient, eval mode): the paper's teacher/student idea on the stream network itself (0: off)


@dataclass
class ModelConfig:
    """The two-stage teacher/student predictor (paper section 3.1)."""

    hidden1: int = 256  # stage-1 student units; the Bi-LSTM teacher has hidden1/2 per direction
    hidden2: int = 256  # stage-2 student units; teacher likewise hidden2/2 per direction
    dropout: float = 0.3  # dropout on stage inputs during training (0 disables)
    fuse_context: float = 0.0  # weight w of the skeleton context network's own class log-probabilities in
    # the students' final prediction, (1 - w) log p_stage + w log p_context (0: the paper's predictor alone)
    fuse_action: float = 0.0  # weight v of the action network's own class log-probabilities, likewise:
    # (1 - w - v) log p_stage + w log p_context + v log p_action (0: not fused)
    smooth: float = 0.0  # decay d in [0, 1): the students predict from the mean of their (fused) class
    # log-probabilities over the frames seen, frame s weighted d^(t - s) (0: each frame's own; causal, O(1) online)
    mirror: str = "none"  # test-time mirroring of the students: "none"; "experts" (the fused classifiers'
    # log-probabilities averaged over the clip and its left-right mirror image); "all" (the stages' too)
    pool: str = "log"  # how the fusion combines its experts: "log", the weighted sum of log-probabilities (a
    # product of experts); "linear", the log of the weighted sum of probabilities (a mixture: one expert
    # sure of a wrong class cannot veto the others)
    early_frames: int = 0  # > 0: while fewer frames than this are seen, the fused context expert is the early
    # window net's classifier (the window net's twin reading the motion per frame observed, trained beside it):
    # resampling a short prefix to the window hides how fast the body moves (docs/experiments.md, stop 30)
    twin_frames: int = 0  # with speed_twin: the twin predicts while fewer frames than this are seen, the method
    # from then on (0: the window, context_net.window; earlyact.twin.switch_frames)
    twin_ramp: int = 0  # with speed_twin: over this many frames before the switch the prediction crossfades
    # from the twin's class log-probabilities to the method's (earlyact.twin.twin_weights; 0: a hard switch)


MIRROR_MODES = ("none", "experts", "all")  # the values of ModelConfig.mirror
POOLS = ("log", "linear")  # the values of ModelConfig.pool
PREDICTION_ONLY = (
    "fuse_context", "fuse_action", "smooth", "mirror", "pool", "early_frames", "twin_frames", "twin_ramp",
)  # fmt: skip
# ModelConfig fields that act on predictions alone: a trained phase does not depend on them (its settings
# leave them out; predict.prediction_options)


@dataclass
class LossConfig:
    """Per-stage loss L = L_C + alpha * ||S - T||_F^2 (paper eqs. 1-3)."""

    alpha1: float = 0.01  # distillation weight of stage 1 (hidden states are per-unit in [-1, 1])
    alpha2: float = 0.01  # distillation weight of stage 2
    progressive: bool = True  # L_C's (t/T)-weighted false-positive term for the teachers and the methods
    # that use it (ms-lstm, kd-ms-lstm); False = per-frame CE for them too (lstm-ce: CE always)
    soft: float = 0.0  # > 0: distilled students also learn the teachers' per-frame class distributions,
    # soft * tau^2 KL(p_teacher || p_student) at temperature tau, each stage (0: the paper's hidden-state term alone)
    temperature: float = 2.0  # tau of that term


@dataclass
class TrainConfig:
    """Optimisation of one training phase (teachers, students, or the action network)."""

    epochs: int = 60  # maximum epochs per phase
    batch_size: int = 32  # clips per batch (padded to the longest; padding is masked)
    lr: float = 2e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # max global gradient norm
    patience: int = 12  # early stopping: epochs without validation improvement
    cosine: bool = False  # decay the learning rate to 0 along a cosine over ``epochs`` (else constant)
    val_fraction: float = 0.15  # part of the training split held out for early stopping; 0: none (every
    # phase runs all its epochs and keeps the last weights: a final fit on all the training clips)
    val_by_group: bool = False  # hold out whole groups (clip meta "group", e.g. UT sequences), not clips
    swa: float = 0.0  # > 0: keep the mean of the weights after each of the last ceil(swa * epochs) epochs
    # (stochastic weight averaging, Izmailov et al. 2018; BatchNorm statistics averaged alike) instead of
    # one epoch's; with validation the averages are scored; 0: off


@dataclass
class DemoDataConfig:
    """The synthetic two-person interaction dataset of ``earlyact demo`` (COCO-18 skeletons)."""

    clips_per_class: int = 50  # clips generated per class
    min_frames: int = 30  # shortest clip
    max_frames: int = 60  # longest clip
    noise: float = 0.012  # Gaussian joint noise, in body heights
    missing: float = 0.04  # probability that a joint is missing in a frame
    cue: float = 0.5  # how far (fraction of the final pose) limbs move before the interaction starts
    test_fraction: float = 0.4  # clips per class put in the test split
    seed: int = 0  # generator seed


@dataclass
class ExperimentConfig:
    """Everything one ``train``/``compare``/``demo`` run needs; saved beside every checkpoint."""

    methods: list[str] = field(
        default_factory=lambda: ["lstm-ce", "ms-lstm", "kd-ms-lstm", "teacher"]
    )  # methods compared (names in methods.METHODS)
    streams: list[str] = field(
        default_factory=lambda: ["context", "action"]
    )  # streams the predictor reads: "context", "action" or both
    seeds: list[int] = field(default_factory=lambda: [0])  # one full run per seed
    workers: int = 1  # processes training seeds (the UT benchmark: folds) side by side (earlyact.parallel)
    threads: int = 0  # torch threads per training process (0: torch's default, the machine's core count); the
    # weights depend on it (the arithmetic), not on workers: the benchmarks fix 1, also the fastest here
    ratios: list[float] = field(
        default_factory=lambda: [round(0.1 * i, 1) for i in range(1, 11)]
    )  # observation ratios of the evaluation
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # the stages' and the action network's training
    context_augment: AugmentConfig = field(default_factory=AugmentConfig)  # the context (window) network's own
    # training: a pretrained encoder may take stronger augmentation than the stages that read it
    action_net: ActionNetConfig = field(default_factory=ActionNetConfig)
    action_folds: int = 0  # > 1: training clips read out-of-fold action features from K extra networks
    action_train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40))
    context_net: ContextNetConfig = field(default_factory=ContextNetConfig)
    context_folds: int = 0  # > 1: training clips read out-of-fold context (or window) features from K extra networks
    context_train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=150, lr=1e-3, weight_decay=1e-4, patience=150, cosine=True)
    )  # optimisation of the context network (used when context_net.channels > 0)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # the stages: teachers, then students
    teacher_epochs: int = 0  # > 0: the teachers' epochs (whole clips take longer to fit); 0: train.epochs
    speed_twin: bool = False  # every method has a twin whose window net reads the motion per frame observed
    # (context_net.real_motion); the twin predicts while fewer frames than the window are seen, the method after
    # (earlyact.twin; docs/experiments.md, stop 30)
    twin_prefixes: bool = False  # the twin's window nets train only on prefixes shorter than the window, the ones
    # it predicts from (context_net.prefix_frames_max = window - 1); the twin never inherits prefix_frames_min
    demo: DemoDataConfig = field(default_factory=DemoDataConfig)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, YAML/JSON-serialisable dict of a config dataclass (tuples become lists)."""
    return _plain(dataclasses.asdict(cfg))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are clear errors."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    defaults = cls()
    merged = {f.name: kwargs.get(f.name, getattr(defaults, f.name)) for f in dataclasses.fields(cls)}
    return cls(**merged)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (inner, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(inner, v, where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is float:
        return _to_float(value, where)
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ValueError(f"{where}: expected int, got {value!r}")
    return value


def _to_float(value: Any, where: str) -> float:
    """YAML reads ``3e-4`` as a string (YAML 1.1); accept numbers and numeric strings."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected float, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected float, got {value!r}") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``a.b.c=value`` overrides applied (value parsed as YAML)."""
    out = _plain(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected key.sub=value")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Defaults, then the YAML file at ``path`` (if any), then dotted ``overrides``."""
    data: dict[str, Any] = to_dict(ExperimentConfig())
    if path is not None:
        text = Path(path).read_text()
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file must hold a mapping")
        data = _deep_merge(data, loaded)
    data = apply_overrides(data, overrides or [])
    return from_dict(ExperimentConfig, data, str(path or "config"))


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def dump_yaml(cfg: Any) -> str:
    """The resolved config as YAML text (what is saved beside checkpoints)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
