"""The methods compared, as plain configuration of one code path (no registry, no strings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """What one method trains and how it predicts."""

    two_stage: bool  # stage 1 on context, stage 2 on [stage-1 hidden || action]; else one LSTM on all
    teachers: bool  # Bi-LSTM teachers are trained first, on whole clips
    distill: bool  # students add alpha * ||S - T||_F^2 against the frozen teachers
    progressive: bool  # L_C (eq. 1, (t/T)-weighted false positives); else per-frame cross-entropy
    offline: bool  # predictions come from the teachers (see the whole clip): an upper bound


METHODS: dict[str, Method] = {
    "lstm-ce": Method(two_stage=False, teachers=False, distill=False, progressive=False, offline=False),
    "ms-lstm": Method(two_stage=True, teachers=False, distill=False, progressive=True, offline=False),
    "kd-ms-lstm": Method(two_stage=True, teachers=True, distill=True, progressive=True, offline=False),
    "teacher": Method(two_stage=True, teachers=True, distill=False, progressive=True, offline=True),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {list(METHODS)}")
    return METHODS[name]
