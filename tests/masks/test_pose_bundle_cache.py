"""The pose landmarker bundle cached under $VEDIT_HOME/cache: private folder,
the same bytes as a fresh build, used instead of building, and rebuilt when
the file is damaged, the install changes or the home cannot be written."""
import os
import shutil
import stat
import zipfile
from io import BytesIO

import pytest

from vedit.masks import people
from vedit.runtime import import_mediapipe


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """No bundle in memory; $VEDIT_HOME a new folder (the conftest also sets one)."""
    monkeypatch.setattr(people, "_BUNDLE", None)
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _no_build(monkeypatch):
    def fail():
        raise AssertionError("the bundle was built again")

    monkeypatch.setattr(people, "build_pose_bundle", fail)


def test_first_use_writes_a_private_cache_that_later_starts_read(fresh, monkeypatch):
    built = people.build_pose_bundle()
    assert people.pose_bundle() == built
    path = people.bundle_cache_path()
    assert path.parent == fresh / "cache" and path.read_bytes() == built
    for folder in (fresh, fresh / "cache"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    with zipfile.ZipFile(BytesIO(built)) as z:
        assert sorted(z.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]

    monkeypatch.setattr(people, "_BUNDLE", None)  # a new process
    _no_build(monkeypatch)
    assert people.pose_bundle() == built


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty"])
def test_a_damaged_cache_is_rebuilt(fresh, monkeypatch, damage):
    good = people.pose_bundle()
    path = people.bundle_cache_path()
    data = bytearray(good)
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped":
        data[len(data) // 2] ^= 0xFF  # inside the landmark model: its CRC no longer matches
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    monkeypatch.setattr(people, "_BUNDLE", None)
    assert people.pose_bundle() == good
    assert path.read_bytes() == good  # repaired for the next start


def test_the_key_follows_the_mediapipe_install(fresh, monkeypatch, tmp_path):
    # the wheel's two model files copied, so one can be changed here
    mp = import_mediapipe()
    root = tmp_path / "modules"
    for _, rel, *_ in people._SOURCES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(os.path.dirname(mp.__file__), "modules", rel), root / rel)
    monkeypatch.setattr(people, "_model_root", lambda: str(root))
    first = people.pose_bundle()
    key = people.bundle_cache_path()
    assert key.exists()

    with monkeypatch.context() as m:  # another MediaPipe version
        m.setattr(mp, "__version__", mp.__version__ + ".post1", raising=False)
        assert people.bundle_cache_path() != key
    assert people.bundle_cache_path() == key

    model = root / people._SOURCES[1][1]  # a model file replaced (here: touched)
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert people.bundle_cache_path() != key
    monkeypatch.setattr(people, "_BUNDLE", None)
    assert people.pose_bundle() == first  # the same models: the same bytes, under the new key
    assert people.bundle_cache_path().read_bytes() == first


def test_an_unwritable_home_still_gives_the_bundle(fresh, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("VEDIT_HOME", str(blocker / "home"))  # cannot be created
    built = people.build_pose_bundle()
    assert people.pose_bundle() == built


def test_a_landmarker_runs_from_the_cached_bundle(fresh, monkeypatch):
    import numpy as np

    people.pose_bundle()
    monkeypatch.setattr(people, "_BUNDLE", None)
    _no_build(monkeypatch)
    model = people.PoseModel(num_poses=1)
    assert model.people(np.full((256, 256, 3), 128, np.uint8)) == []  # a blank picture: nobody
