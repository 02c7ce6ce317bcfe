"""OTIO round trip: select clips, run an op on each source range, write a new
timeline with the results on a new track above, same record times."""
from __future__ import annotations

import os

import numpy as np
import pytest

otio = pytest.importorskip("opentimelineio")

from vedit.io import open_clip, open_writer  # noqa: E402
from vedit.timeline import media_path_of, process_timeline, read_timeline  # noqa: E402

RATE = 24


def rt(v):
    return otio.opentime.RationalTime(v, RATE)


def make_timeline(clips, path):
    """V1: shot0[3:11] gap(4) shot1[5:17]; V2: gap(6) shot2[0:9] with a red marker."""
    tl = otio.schema.Timeline(name="cut")
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)

    def clip(name, p, s, d):
        ref = otio.schema.ExternalReference(target_url="file://" + str(p),
                                            available_range=otio.opentime.TimeRange(rt(0), rt(20)))
        return otio.schema.Clip(name=name, media_reference=ref, source_range=otio.opentime.TimeRange(rt(s), rt(d)))

    v1.append(clip("shot0", clips[0], 3, 8))
    v1.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(4))))
    v1.append(clip("shot1", clips[1], 5, 12))
    v2.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(6))))
    c2 = clip("shot2", clips[2], 0, 9)
    c2.markers.append(otio.schema.Marker(name="fix", marked_range=otio.opentime.TimeRange(rt(0), rt(1)),
                                         color=otio.schema.MarkerColor.RED))
    v2.append(c2)
    tl.tracks.extend([v1, v2])
    otio.adapters.write_to_file(tl, str(path))
    return tl


def darken_runner(calls):
    """A stand-in op with the ops signature: halves the texture below the
    number band (real pixels, real encode), records its calls."""
    def run(input, output, *, start=None, end=None, callback=None, **params):
        calls.append((input, start, end, params))
        clip = open_clip(input, start=start, end=end)
        with open_writer(output, clip.fps, clip.size, like=clip) as w:
            for i, f in enumerate(clip.frames()):
                g = f.copy()
                g[f.shape[0] // 3:] //= 2
                w.write(g)
                if callback:
                    callback(i + 1, clip.frame_count, "darken")
        return output
    return run


def source_name(result_clip):
    return result_clip.name.rsplit(" (vedit ", 1)[0]


def check_result(new_path, src_tl, helpers, expect_names, n_new=1):
    new = read_timeline(str(new_path))
    vt = list(new.video_tracks())
    n_src = len(list(src_tl.video_tracks()))
    assert len(vt) == n_src + n_new
    # new tracks above the originals, holding only results (FCP7 XML keeps no track names)
    results = [c for t in vt[n_src:] for c in t.find_clips()]
    assert all(c.name.endswith(")") and "(vedit " in c.name for c in results)
    src = {c.name: c for c in src_tl.find_clips()}
    assert sorted(source_name(c) for c in results) == sorted(expect_names)
    for rc in results:
        sc = src[source_name(rc)]
        a, b = rc.range_in_parent(), sc.range_in_parent()
        assert a.start_time.to_frames() == b.start_time.to_frames()
        assert a.duration.to_frames() == b.duration.to_frames()
        path = media_path_of(rc, os.path.dirname(str(new_path)))
        res = open_clip(path)
        assert res.frame_count == b.duration.to_frames()
        frames = res.read_all()
        s0 = sc.source_range.start_time.to_frames()
        got = [helpers.frame_number(f) for f in frames]
        assert got == list(range(s0, s0 + len(frames))), (rc.name, got)
    return new, results


def test_otio_round_trip_three_clips(tmp_path, numbered_clips, helpers):
    src = make_timeline(numbered_clips, tmp_path / "cut.otio")
    calls = []
    rep = process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "out.otio"), op="remove",
                           params={"mask": "masks/{name}.png", "dilate": 2}, runner=darken_runner(calls))
    assert len(rep.items) == 3
    assert {(os.path.basename(c[0]), c[1], c[2]) for c in calls} == {
        ("shot0.mp4", 3, 11), ("shot1.mp4", 5, 17), ("shot2.mp4", 0, 9)}
    # per-clip placeholders filled, other params passed through unchanged
    assert {c[3]["mask"] for c in calls} == {"masks/shot0.png", "masks/shot1.png", "masks/shot2.png"}
    assert all(c[3]["dilate"] == 2 for c in calls)
    # shot0 [0,8) and shot2 [6,15) overlap in record time, so the results need two new tracks
    new, results = check_result(tmp_path / "out.otio", src, helpers, ["shot0", "shot1", "shot2"], n_new=2)
    # the original tracks are untouched
    orig = [c.name for c in src.find_clips()]
    assert [c.name for t in list(new.video_tracks())[:2] for c in t.find_clips()] == orig
    # result pixels: texture darkened by the op
    f = open_clip(media_path_of(results[0], str(tmp_path))).read_all()[0]
    assert f[20:].mean() < 0.7 * helpers.numbered_frame(0)[20:].mean()


def test_select_by_marker_and_track(tmp_path, numbered_clips, helpers):
    src = make_timeline(numbered_clips, tmp_path / "cut.otio")
    calls = []
    rep = process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "red.otio"), op="remove",
                           markers=["red"], runner=darken_runner(calls))
    assert [it.name for it in rep.items] == ["shot2"]
    check_result(tmp_path / "red.otio", src, helpers, ["shot2"])
    rep = process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "v1.otio"), op="remove",
                           tracks=["1"], names=["shot1"], runner=darken_runner(calls))
    assert [it.name for it in rep.items] == ["shot1"]


def test_fcp7_xml_round_trip(tmp_path, numbered_clips, helpers):
    make_timeline(numbered_clips, tmp_path / "cut.otio")
    otio.adapters.write_to_file(otio.adapters.read_from_file(str(tmp_path / "cut.otio")), str(tmp_path / "cut.xml"))
    src = read_timeline(str(tmp_path / "cut.xml"))
    calls = []
    process_timeline(str(tmp_path / "cut.xml"), str(tmp_path / "out.xml"), op="matte", runner=darken_runner(calls))
    assert len(calls) == 3
    check_result(tmp_path / "out.xml", src, helpers, ["shot0", "shot1", "shot2"], n_new=2)


def test_edl_round_trip_single_track(tmp_path, numbered_clips, helpers):
    tl = make_timeline(numbered_clips, tmp_path / "cut.otio")
    tl.tracks.remove(tl.tracks[1])  # EDL holds one video track
    otio.adapters.write_to_file(tl, str(tmp_path / "cut.edl"))
    calls = []
    process_timeline(str(tmp_path / "cut.edl"), str(tmp_path / "out.otio"), op="remove", rate=RATE,
                     runner=darken_runner(calls))
    assert {(os.path.basename(c[0]), c[1], c[2]) for c in calls} == {("shot0.mp4", 3, 11), ("shot1.mp4", 5, 17)}
    check_result(tmp_path / "out.otio", read_timeline(str(tmp_path / "cut.edl"), rate=RATE), helpers,
                 ["shot0", "shot1"])


def test_errors_are_clear(tmp_path, numbered_clips):
    from vedit.errors import InvalidInputError, MediaNotFoundError

    make_timeline(numbered_clips, tmp_path / "cut.otio")
    with pytest.raises(InvalidInputError, match="no clip matched"):
        process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "o.otio"), op="remove",
                         names=["nope"], runner=darken_runner([]))
    with pytest.raises(InvalidInputError, match="adapter"):
        process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "o.foo"), op="remove", runner=darken_runner([]))
    with pytest.raises(MediaNotFoundError):
        process_timeline(str(tmp_path / "missing.otio"), str(tmp_path / "o.otio"), op="remove",
                         runner=darken_runner([]))
    os.remove(numbered_clips[1])
    with pytest.raises(MediaNotFoundError, match="shot1"):
        process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "o.otio"), op="remove", runner=darken_runner([]))
    assert not (tmp_path / "o.otio").exists()


def test_result_timeline_needs_every_clip_processed(tmp_path, numbered_clips):
    from vedit.errors import InvalidInputError
    from vedit.timeline import build_result_timeline

    src = make_timeline(numbered_clips, tmp_path / "cut.otio")
    # a dry run selects the clips but writes no results: placing them is one clear error, not a crash on None
    rep = process_timeline(str(tmp_path / "cut.otio"), str(tmp_path / "o.otio"), op="remove", dry_run=True,
                           runner=darken_runner([]))
    assert [it.output for it in rep.items] == [None, None, None]
    with pytest.raises(InvalidInputError, match="shot0.*no result file"):
        build_result_timeline(src, rep.items, "remove")


def test_cli_timeline_with_real_remove_op(tmp_path, numbered_clips, helpers):
    """End to end through the CLI with the real ``remove`` op (propagate engine)."""
    import cv2
    from click.testing import CliRunner

    from vedit_cli.main import main

    src = make_timeline(numbered_clips, tmp_path / "cut.otio")
    mask = np.zeros((48, 64), np.uint8)
    mask[24:40, 20:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    res = CliRunner().invoke(main, ["timeline", str(tmp_path / "cut.otio"), "-o", str(tmp_path / "clean.otio"),
                                    "--op", "remove", "--mask", "mask.png", "--quiet"])
    assert res.exit_code == 0, res.output
    new, results = check_result(tmp_path / "clean.otio", src, helpers, ["shot0", "shot1", "shot2"], n_new=2)
    # outside the mask the result matches the source frames (lossy codec tolerance)
    rc = [r for r in results if source_name(r) == "shot1"][0]
    out = open_clip(media_path_of(rc, str(tmp_path))).read_all()
    inp = open_clip(str(numbered_clips[1]), start=5, end=17).read_all()
    keep = np.ones((48, 64), bool)
    keep[18:46, 14:46] = False
    diff = np.abs(out[3].astype(int) - inp[3].astype(int))[keep].mean()
    assert diff < 6


def test_cli_errors_one_line(tmp_path):
    from click.testing import CliRunner

    from vedit_cli.main import main

    res = CliRunner().invoke(main, ["timeline", str(tmp_path / "none.otio"), "-o", str(tmp_path / "x.otio"),
                                    "--op", "remove"])
    assert res.exit_code == 1
    assert "ERROR:" in res.output and "Traceback" not in res.output


def test_cli_timeline_with_real_replace_bg_op(tmp_path, numbered_clips, helpers):
    """End to end through the CLI with the real ``replace-bg`` op and a file matte."""
    import cv2
    from click.testing import CliRunner

    from vedit_cli.main import main

    src = make_timeline(numbered_clips, tmp_path / "cut.otio")
    matte = np.zeros((48, 64), np.uint8)
    matte[:24] = 255  # keep the frame-number band, replace the rest
    cv2.imwrite(str(tmp_path / "matte.png"), matte)
    res = CliRunner().invoke(main, ["timeline", str(tmp_path / "cut.otio"), "-o", str(tmp_path / "bg.xml"),
                                    "--op", "replace-bg", "--matte", "matte.png", "--background", "#00ff00",
                                    "--marker", "RED", "--quiet"])
    assert res.exit_code == 0, res.output
    new, results = check_result(tmp_path / "bg.xml", src, helpers, ["shot2"])
    frames = open_clip(media_path_of(results[0], str(tmp_path))).read_all()
    bottom = np.stack(frames)[:, 34:].reshape(-1, 3).mean(0)
    assert bottom[1] > 200 and bottom[0] < 60 and bottom[2] < 60
