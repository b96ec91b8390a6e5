import av
import numpy as np
import pytest
from PIL import Image

from earlyact.video import read_video, resample_indices


def _write_video(path, n=30, fps=10, size=(64, 48), codec="mpeg4"):
    """A real encoded video: a bright square moving right, one position per frame."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[10:30, i : i + 16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize(("name", "codec"), [("clip.avi", "mpeg4"), ("clip.mp4", "libx264")])
def test_decode_counts_frames_and_keeps_fps(tmp_path, name, codec):
    _write_video(tmp_path / name, n=30, fps=10, codec=codec)
    video = read_video(tmp_path / name)
    assert video.frames.shape == (30, 48, 64, 3) and video.frames.dtype == np.uint8
    assert video.fps == pytest.approx(10.0) and video.complete
    cols = [np.argmax(f[20, :, 0] > 128) for f in video.frames]  # the square moves one pixel a frame
    assert cols == sorted(cols) and cols[-1] - cols[0] >= 25


def test_resampling_by_timestamps(tmp_path):
    _write_video(tmp_path / "c.avi", n=30, fps=10)
    half = read_video(tmp_path / "c.avi", target_fps=5)
    assert len(half.frames) == 15 and half.fps == 5 and half.source_fps == pytest.approx(10)
    np.testing.assert_array_equal(resample_indices(np.arange(10) / 10, 20.0)[:4], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="positive"):
        resample_indices(np.arange(3.0), 0)


def test_truncated_and_bogus_files_name_the_file(tmp_path):
    for ext in ("avi", "mkv"):
        _write_video(tmp_path / f"full.{ext}", n=60, fps=10, size=(160, 120))
        data = (tmp_path / f"full.{ext}").read_bytes()
        (tmp_path / f"cut.{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.avi: cannot open"):  # AVI: the cut breaks the container
        read_video(tmp_path / "cut.avi")
    with pytest.raises(ValueError, match="cut.mkv: frames end at .* truncated"):  # MKV: frames stop early
        read_video(tmp_path / "cut.mkv")
    with pytest.warns(UserWarning, match="partial"):
        partial = read_video(tmp_path / "cut.mkv", allow_partial=True)
    assert 10 < len(partial.frames) < 60 and not partial.complete
    assert len(read_video(tmp_path / "full.mkv").frames) == 60
    (tmp_path / "text.avi").write_text("not a video")
    with pytest.raises(ValueError, match="text.avi: cannot open"):
        read_video(tmp_path / "text.avi")


def test_image_folder(tmp_path):
    for i in range(4):
        Image.fromarray(np.full((8, 6, 3), i * 40, np.uint8)).save(tmp_path / f"{i:04d}.png")
    video = read_video(tmp_path, target_fps=12)
    assert video.frames.shape == (4, 8, 6, 3) and video.fps == 12
    assert [int(f[0, 0, 0]) for f in video.frames] == [0, 40, 80, 120]


@pytest.mark.shared
def test_real_videos_decode(shared_data):
    expected = {
        "eye_makeup_ucf101_like.avi": (164, 25.0, (240, 320)),
        "ntu_drink_water_1080p.avi": (103, 30.0, (1080, 1920)),
        "two_person_interaction_1080p.mp4": (72, 28.05, (1080, 1920)),
        "three_people_exercise.avi": (393, 10.0, (288, 384)),
    }
    for name, (n, fps, hw) in expected.items():
        video = read_video(shared_data / "videos" / name)
        assert video.frames.shape[:3] == (n, *hw) and video.fps == pytest.approx(fps, abs=0.01), name


def test_cameras_open_through_v4l2_and_a_missing_one_names_itself():
    from earlyact.video import iter_frames, open_arguments

    assert open_arguments("camera:1") == ("/dev/video1", {"format": "v4l2"})
    assert open_arguments("/dev/video0") == ("/dev/video0", {"format": "v4l2"})
    assert open_arguments("rtsp://cam.local/stream") == ("rtsp://cam.local/stream", {})
    assert open_arguments("clips/camera:1.mp4") == ("clips/camera:1.mp4", {})
    with pytest.raises(ValueError, match=r"camera:97: cannot open as a video"):  # no such device here
        next(iter_frames("camera:97"))
