"""The embedded demo dataset: synthetic two-person interactions as COCO-18 (OpenPose) skeletons.

Two people walk towards each other (the same for every class), then one of six interactions
unfolds (hand-shake, hug, kick, point, punch, push: UT-Interaction's classes). Before the
interaction a weak, noisy preparatory cue hints at it (an arm starts to rise, a leg to lift),
so early frames are ambiguous and later frames are not: what early prediction is about.
Speed, onset, scale, position, side (the actor is left or right), noise and missing joints vary.
"""

from __future__ import annotations

import numpy as np

from earlyact.config import DemoDataConfig
from earlyact.data import Clip, ClipEntry, DatasetIndex
from earlyact.skeleton import COCO18

CLASSES = ["hand_shake", "hug", "kick", "point", "punch", "push"]

# per class: target angles (shoulder, elbow) of the actor's right / left arm, right hip / knee,
# the partner's arms, how close they stop (body heights), and the partner's recoil
_ACTION = {
    "hand_shake": dict(ra=(1.25, 0.3), la=None, rl=None, pra=(1.25, 0.3), pla=None, stop=0.55, recoil=0.0, shake=0.12),
    "hug": dict(ra=(1.9, 0.9), la=(1.9, 0.9), rl=None, pra=(1.9, 0.9), pla=(1.9, 0.9), stop=0.3, recoil=0.0, shake=0.0),
    "kick": dict(ra=(0.4, 0.2), la=(0.4, 0.2), rl=(1.3, 0.1), pra=None, pla=None, stop=0.7, recoil=0.15, shake=0.0),
    "point": dict(ra=(1.65, 0.0), la=None, rl=None, pra=None, pla=None, stop=1.2, recoil=0.0, shake=0.0),
    "punch": dict(ra=(1.55, 0.0), la=(0.9, 1.8), rl=None, pra=None, pla=None, stop=0.6, recoil=0.2, shake=0.0),
    "push": dict(ra=(1.5, 0.25), la=(1.5, 0.25), rl=None, pra=None, pla=None, stop=0.5, recoil=0.35, shake=0.0),
}  # fmt: skip

_REST_ARM = (0.15, 0.25)  # arms hang slightly forward, elbows slightly bent
_REST_LEG = (0.0, 0.0)


def _smooth(u: np.ndarray) -> np.ndarray:
    """Smoothstep from 0 to 1 on [0, 1]."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _limb(
    start: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    facing: float,
    lengths: tuple[float, float],
    down: bool,
):
    """Two-segment limb from ``start``; a = angle from hanging down towards the facing side."""
    sign = -1.0 if down else -1.0
    d1 = np.stack([facing * np.sin(a), sign * np.cos(a)], -1)
    mid = start + lengths[0] * d1
    d2 = np.stack([facing * np.sin(a + b), sign * np.cos(a + b)], -1)
    return mid, mid + lengths[1] * d2


def _body(x: np.ndarray, facing: float, arms, legs, lean: np.ndarray) -> np.ndarray:
    """(T,) root x and per-frame limb angles -> (T, 18, 2) joints in body-height units, y up."""
    T = len(x)
    J = np.zeros((T, 18, 2))
    neck = np.stack([x + lean, np.full(T, 0.82)], -1)
    hip = np.stack([x, np.full(T, 0.5)], -1)
    J[:, 1] = neck
    J[:, 0] = neck + [0.06 * facing, 0.1]
    J[:, 14] = J[:, 0] + [0.01 * facing, 0.03]
    J[:, 15] = J[:, 0] + [0.03 * facing, 0.03]
    J[:, 16] = J[:, 0] + [-0.04 * facing, 0.02]
    J[:, 17] = J[:, 0] + [-0.02 * facing, 0.02]
    for side, (sh, el, wr, hp, kn, an) in enumerate(((2, 3, 4, 8, 9, 10), (5, 6, 7, 11, 12, 13))):
        offset = np.array([0.03 * facing * (1 - 2 * side), 0.0])
        J[:, sh] = neck + offset
        J[:, el], J[:, wr] = _limb(J[:, sh], arms[side][0], arms[side][1], facing, (0.17, 0.16), False)
        J[:, hp] = hip + offset * 0.6
        J[:, kn], J[:, an] = _limb(J[:, hp], legs[side][0], -legs[side][1], facing, (0.25, 0.25), True)
    return J


def _angles(target, rest, w: np.ndarray, extra: np.ndarray | float = 0.0):
    """Blend rest -> target by weight w (T,) in [0, 1]; ``extra`` is added to the first angle."""
    if target is None:
        return (np.full_like(w, rest[0]) + extra, np.full_like(w, rest[1]))
    return (rest[0] + (target[0] - rest[0]) * w + extra, rest[1] + (target[1] - rest[1]) * w)


def make_clip(label: int, rng: np.random.Generator, cfg: DemoDataConfig, clip_id: str) -> Clip:
    """One synthetic interaction of class ``label`` as a (T, 2, 18, 3) pose (x, y, confidence)."""
    spec = _ACTION[CLASSES[label]]
    T = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    u = np.linspace(0.0, 1.0, T)
    onset = rng.uniform(0.3, 0.45)  # the interaction starts here (fraction of the clip)
    peak = onset + rng.uniform(0.2, 0.3)
    act = _smooth((u - onset) / (peak - onset))  # the interaction: 0 before the onset, 1 at the peak
    # weak early hint: before the onset the limbs already move a little towards the final pose
    hint = cfg.cue * rng.uniform(0.3, 1.0) * np.clip(u / onset, 0.0, 1.0)
    w = act + hint * (1 - act)  # limb pose: rest -> final
    start_gap, stop = rng.uniform(1.6, 2.2), spec["stop"] + rng.normal(0, 0.05)
    x = np.clip(u / onset, 0.0, 1.0)
    gap = start_gap + (stop - start_gap) * (1 - (1 - x) ** 2)  # both approach (decelerating) to a class-specific stop
    gap = gap + spec["recoil"] * act
    step = np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * u) * (1 - _smooth(u / onset * 1.1))  # walking
    legs_walk = [(0.35 * step, 0.2 * np.abs(step)), (-0.35 * step, 0.2 * np.abs(step))]
    shake = spec["shake"] * np.sin(2 * np.pi * 6 * u) * act
    actor = [_angles(spec["ra"], _REST_ARM, w, shake), _angles(spec["la"], _REST_ARM, w)]
    partner = [_angles(spec["pra"], _REST_ARM, w, shake), _angles(spec["pla"], _REST_ARM, w)]
    kick = _angles(spec["rl"], _REST_LEG, w)
    actor_legs = [(legs_walk[0][0] + kick[0], legs_walk[0][1] + kick[1]), legs_walk[1]]
    for arm in actor + partner:  # walking arm swing
        arm[0][:] += -0.2 * step
    A = _body(-gap / 2, 1.0, actor, actor_legs, 0.05 * act * (spec["stop"] < 0.6))
    B = _body(gap / 2, -1.0, partner, legs_walk, -0.08 * spec["recoil"] * act / 0.35)
    pose = _to_image(np.stack([A, B], 1), rng, cfg)  # (T, 2, 18, 3)
    return Clip(clip_id=clip_id, label=label, pose=pose.astype(np.float32), fps=30.0, source="synthetic")


def _to_image(bodies: np.ndarray, rng: np.random.Generator, cfg: DemoDataConfig) -> np.ndarray:
    """Body units (y up) -> pixels (y down), noise, random side swap, missing joints, confidence."""
    T, P, J, _ = bodies.shape
    if rng.random() < 0.5:  # mirror the scene: the actor is then the person on the right
        bodies = bodies[:, ::-1].copy()
        bodies[..., 0] *= -1
    bodies = bodies + rng.normal(0, cfg.noise, bodies.shape)
    scale = rng.uniform(120, 260)  # pixels per body height
    origin = np.array([rng.uniform(250, 390), rng.uniform(280, 340)])
    xy = origin + scale * bodies * np.array([1.0, -1.0])
    conf = rng.uniform(0.5, 1.0, (T, P, J, 1))
    missing = rng.random((T, P, J)) < cfg.missing
    xy[missing] = np.nan
    conf[missing] = 0.0
    return np.concatenate([xy, conf], -1)


def make_dataset(cfg: DemoDataConfig) -> tuple[DatasetIndex, list[Clip]]:
    """A reproducible synthetic dataset (seeded by ``cfg.seed``) with a train/test split."""
    rng = np.random.default_rng(cfg.seed)
    clips, entries = [], []
    n_test = int(round(cfg.test_fraction * cfg.clips_per_class))
    for label, name in enumerate(CLASSES):
        for i in range(cfg.clips_per_class):
            clip = make_clip(label, rng, cfg, f"{name}_{i:03d}")
            clips.append(clip)
            entries.append(ClipEntry(clip.clip_id, label, "test" if i < n_test else "train", str(i % 10)))
    streams = {"pose": {"layout": COCO18.name, "channels": ["x", "y", "confidence"], "source": "synthetic"}}
    return DatasetIndex(list(CLASSES), entries, streams, name="synthetic-interactions"), clips
