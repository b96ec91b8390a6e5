import pytest

from earlyact.datasets import (
    UT_CLASSES,
    leave_one_group_out,
    read_generic,
    read_ucf101,
    read_ut_interaction,
    to_index,
)


def test_ut_interaction_layout(tmp_path):
    for name in ("0_1_4.avi", "1_1_2.avi", "2_2_4.avi", "3_2_0.avi", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    classes, entries = read_ut_interaction(tmp_path)
    assert classes == UT_CLASSES and len(entries) == 4
    e = {x.clip_id: x for x in entries}["ut_002_seq02"]
    assert e.label == 4 and e.group == "2" and e.path.name == "2_2_4.avi"
    folds = leave_one_group_out(entries)
    assert [(g, len(tr), len(te)) for g, tr, te in folds] == [("1", 2, 2), ("2", 2, 2)]
    (tmp_path / "bad_name.avi").write_bytes(b"")
    with pytest.raises(ValueError, match="bad_name.avi: not a UT-Interaction clip name"):
        read_ut_interaction(tmp_path)


@pytest.mark.shared
def test_real_ut_interaction_set1(shared_data):
    classes, entries = read_ut_interaction(shared_data / "ut_interaction" / "segmented_set1")
    assert len(entries) == 60
    folds = leave_one_group_out(entries)
    assert [g for g, _, _ in folds] == [str(i) for i in range(1, 11)]
    by_seq = {g: sorted(UT_CLASSES[e.label] for e in te) for g, _, te in folds}
    assert "punch" not in by_seq["6"] and by_seq["8"].count("punch") == 2
    assert all(len(set(v)) == 6 for k, v in by_seq.items() if k not in ("6",))


def _ucf_tree(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 Archery\r\n2 Biking\r\n")
    train = ["Archery/v_Archery_g08_c01.avi 1", "Biking/v_Biking_g09_c02.avi 2"]
    test = ["Archery/v_Archery_g01_c01.avi", "Biking/v_Biking_g02_c03.avi"]
    (lists / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    for rel in [*(t.split()[0] for t in train), *test]:
        (tmp_path / "UCF-101" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "UCF-101" / rel).write_bytes(b"")
    return tmp_path / "UCF-101", lists


def test_ucf101_layout(tmp_path):
    root, lists = _ucf_tree(tmp_path)
    classes, entries = read_ucf101(root, lists, split=1)
    assert classes == ["Archery", "Biking"]
    assert [(e.clip_id, e.label, e.split, e.group) for e in entries] == [
        ("v_Archery_g08_c01", 0, "train", "08"),
        ("v_Biking_g09_c02", 1, "train", "09"),
        ("v_Archery_g01_c01", 0, "test", "01"),
        ("v_Biking_g02_c03", 1, "test", "02"),
    ]
    (root / "Biking" / "v_Biking_g02_c03.avi").unlink()
    with pytest.raises(FileNotFoundError, match="v_Biking_g02_c03.avi: listed in testlist01.txt but missing"):
        read_ucf101(root, lists, split=1)
    with pytest.raises(FileNotFoundError, match="trainlist02.txt"):
        read_ucf101(root, lists, split=2)


@pytest.mark.shared
def test_real_ucf101_split_lists(shared_data):
    lists = shared_data / "ucf101" / "ucfTrainTestlist"
    for split, test_groups in ((1, range(1, 8)), (2, range(8, 15)), (3, range(15, 22))):
        classes, entries = read_ucf101("UCF-101", lists, split=split, require_files=False)
        assert len(classes) == 101
        test = [e for e in entries if e.split == "test"]
        assert {int(e.group) for e in test} == set(test_groups)
        train_groups = {e.group for e in entries if e.split == "train"}
        assert not train_groups & {e.group for e in test}  # a group is never in both
    classes, entries = read_ucf101("UCF-101", lists, split=1, require_files=False)
    assert sum(e.split == "train" for e in entries) == 9537 and sum(e.split == "test" for e in entries) == 3783


def test_generic_layout(tmp_path):
    for name in ("a b.mp4", "c.avi"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text("clip,label,split\na b.mp4,wave,train\nc,run,test\n")
    classes, entries = read_generic(tmp_path, tmp_path / "labels.csv")
    assert classes == ["run", "wave"] and [(e.clip_id, e.label, e.split) for e in entries] == [
        ("a-b", 1, "train"),
        ("c", 0, "test"),
    ]
    index = to_index(classes, entries, "mine")
    assert index.select("test")[0].clip_id == "c"
    (tmp_path / "labels.csv").write_text("clip,label\nmissing.mp4,run\n")
    with pytest.raises(FileNotFoundError, match="labels.csv:2: no video 'missing.mp4'"):
        read_generic(tmp_path, tmp_path / "labels.csv")
