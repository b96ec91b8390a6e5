import json

import numpy as np
import pytest
from test_video import _write_video

from earlyact import extract
from earlyact.cli import main
from earlyact.data import load_dataset


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "vids"
    folder.mkdir()
    for name in ("a.avi", "b.avi"):
        _write_video(folder / name, n=6, fps=10, size=(64, 48))
    return folder


def test_extract_writes_clips_and_resumes(tmp_path, videos, capsys):
    out = tmp_path / "feats"
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(out), "--set", "max_persons=2"]) == 0
    index, clips = load_dataset(out)
    assert [c.clip_id for c in clips] == ["a", "b"] and index.classes == ["unlabelled"]
    clip = clips[0]
    assert clip.pose.shape == (6, 2, 18, 3) and clip.context.shape == (6, 1280) and clip.fps == 10
    assert np.isnan(clip.pose).all()  # no person in these frames: kept, marked missing, not dropped
    assert index.streams["context"]["backbone"] == "efficientnet-lite0"
    stamp = (out / "clips" / "a" / "meta.json").stat().st_mtime_ns
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(out)]) == 0
    assert (out / "clips" / "a" / "meta.json").stat().st_mtime_ns == stamp  # done clips are skipped


def test_a_crash_leaves_whole_clips_only(tmp_path, videos, monkeypatch):
    out = tmp_path / "feats"
    real = extract.extract_clip
    calls = []

    def crash_on_second(entry, folder):
        calls.append(entry.clip_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(entry, folder)

    monkeypatch.setattr(extract, "extract_clip", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        extract.extract_dataset(videos, "videos", out, extract.ExtractConfig(backbone=""))
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["a"]  # no half-written "b", no temp folder
    assert not (out / "index.json").exists()
    monkeypatch.setattr(extract, "extract_clip", real)
    extract.extract_dataset(videos, "videos", out, extract.ExtractConfig(backbone=""))
    assert json.loads((out / "index.json").read_text())["clips"][1]["clip_id"] == "b"


def test_bad_videos_and_layouts_are_clear_errors(tmp_path, videos, capsys):
    (videos / "c.avi").write_text("not a video")
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(tmp_path / "o")]) == 2
    assert "c.avi: cannot open" in capsys.readouterr().err
    assert main(["extract", str(videos), "--layout", "kinetics", "--out", str(tmp_path / "o")]) == 2
    assert "unknown layout 'kinetics'" in capsys.readouterr().err
