"""A binary mask sequence is read from its files directly: the same masks as
thresholding the RGB frames the clip reader makes of them, for every kind of
file a user hands in (grey, colour, alpha, 16-bit)."""
import cv2
import numpy as np
import pytest

from vedit.flow.ops import mask_bbox
from vedit.io import open_clip, open_masks
from vedit.io.masks import to_mask


def _box_of(m):
    """The box of ``m``'s white pixels, scanned (not a remembered box)."""
    ys, xs = np.nonzero(m)
    return None if len(ys) == 0 else (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)


def _check_remembered_box(m):
    """A decoded mask is read-only, and the box ``mask_bbox`` gives for it
    (remembered by the decoder) is the box of its white pixels."""
    assert not m.flags.writeable
    with pytest.raises(ValueError):
        m[0, 0] = 255
    assert mask_bbox(m) == _box_of(m)


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra", "bgra_opaque", "grey16", "bgr16"])
def test_mask_sequence_matches_frames_read_as_rgb(tmp_path, kind):
    rng = np.random.default_rng(3)
    for i in range(3):
        if kind == "grey":
            im = rng.integers(0, 256, (24, 30)).astype(np.uint8)
        elif kind == "bgr":
            im = rng.integers(0, 256, (24, 30, 3)).astype(np.uint8)
        elif kind == "bgra":
            im = rng.integers(0, 256, (24, 30, 4)).astype(np.uint8)
        elif kind == "bgra_opaque":
            im = np.dstack([rng.integers(0, 256, (24, 30, 3)), np.full((24, 30), 255)]).astype(np.uint8)
        elif kind == "grey16":
            im = rng.integers(0, 65536, (24, 30)).astype(np.uint16)
        else:
            im = rng.integers(0, 65536, (24, 30, 3)).astype(np.uint16)
        cv2.imwrite(str(tmp_path / f"m{i:03d}.png"), im)
    clip = open_clip(str(tmp_path))
    got = list(open_masks(str(tmp_path), clip, allow_empty=True))
    want = [to_mask(f) for f in open_clip(str(tmp_path)).frames()]
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.dtype == np.uint8 and g.shape == (24, 30)
        assert set(np.unique(g)) <= {0, 255}
        np.testing.assert_array_equal(g, w)
    # the values are not trivial: both levels occur
    assert any((g == 0).any() and (g == 255).any() for g in got)


def _blob_masks(rng, h=90, w=160):
    """Mask-like grey images: an empty one, a disc reaching the right edge
    (rows that end inside the mask), a bar down to the bottom edge (rows
    stored as repeats of the row above), a disc in the corner, noise, and
    soft (non-binary) levels."""
    yy, xx = np.mgrid[:h, :w]
    empty = np.zeros((h, w), np.uint8)
    disc = ((yy - 40) ** 2 + (xx - 150) ** 2 < 30 ** 2).astype(np.uint8) * 255
    edge = ((yy - 0) ** 2 + (xx - 0) ** 2 < 25 ** 2).astype(np.uint8) * 255
    bar = ((yy >= 50) & (xx >= 60) & (xx < 100)).astype(np.uint8) * 255
    noise = rng.integers(0, 256, (h, w)).astype(np.uint8)
    soft = np.clip(xx * 2 - yy, 0, 255).astype(np.uint8)
    return [empty, disc, bar, edge, noise, soft]


def test_moving_disc_masks_take_the_direct_path(tmp_path):
    """A disc moving over the frame (the speed benchmark's mask, smaller):
    every file decoded directly, equal to OpenCV's decode."""
    from vedit.io.masks import _grey_png_mask

    for i in range(12):
        m = np.zeros((180, 320), np.uint8)
        cv2.circle(m, (int(320 * (0.2 + 0.05 * i)), int(180 * (0.55 + 0.05 * np.sin(i / 7.0)))), 11, 255, -1)
        p = str(tmp_path / f"{i:05d}.png")
        cv2.imwrite(p, m)
        fast = _grey_png_mask(p, 320, 180)
        assert fast is not None
        np.testing.assert_array_equal(fast, m)


@pytest.fixture(params=["zlib-ng", "zlib"])
def inflater(request, monkeypatch):
    """The direct path with each inflater it may run on: zlib-ng (the
    dependency) and the standard library's zlib (its fallback)."""
    import zlib

    from vedit.io import masks

    if request.param == "zlib-ng":
        zng = pytest.importorskip("zlib_ng.zlib_ng")
        monkeypatch.setattr(masks, "_inflate_lib", zng)
    else:
        monkeypatch.setattr(masks, "_inflate_lib", zlib)
    return request.param


@pytest.mark.parametrize("level", [0, 1, 3, 9])
def test_grey_png_masks_decoded_directly_equal_opencv(tmp_path, level, inflater):
    """The usual mask file (8-bit grey PNG written by OpenCV) is decoded by
    the direct path, with OpenCV's values to the pixel."""
    from vedit.io.masks import _binary_frame, _grey_png_mask

    rng = np.random.default_rng(level)
    taken = []
    for i, im in enumerate(_blob_masks(rng)):
        p = str(tmp_path / f"m{i}.png")
        cv2.imwrite(p, im, [cv2.IMWRITE_PNG_COMPRESSION, level])
        want = cv2.threshold(cv2.imread(p, cv2.IMREAD_UNCHANGED), 127, 255, cv2.THRESH_BINARY)[1]
        fast = _grey_png_mask(p, 160, 90)
        if fast is not None:  # rows with the Average or Paeth filter are left to OpenCV
            np.testing.assert_array_equal(fast, want)
            _check_remembered_box(fast)
            taken.append(i)
        np.testing.assert_array_equal(_binary_frame(p, 160, 90), want)
    # the empty mask, the disc and the bar (None, Sub and Up rows) take it
    assert {0, 1, 2} <= set(taken)


def test_other_pngs_fall_back_to_opencv_with_the_same_values(tmp_path):
    """PNGs the direct path does not handle (other row filters, 16-bit,
    colour, transparency) are read by OpenCV: the same masks either way."""
    from PIL import Image

    from vedit.io.masks import _binary_frame, _grey_png_mask

    rng = np.random.default_rng(5)
    ims = _blob_masks(rng)
    cases = []
    for i, im in enumerate(ims):  # Pillow's adaptive filters (Up, Average, Paeth rows)
        p = str(tmp_path / f"pil{i}.png")
        Image.fromarray(im).save(p)
        cases.append(p)
    p = str(tmp_path / "trns.png")
    Image.fromarray(ims[1]).save(p, transparency=0)
    cases.append(p)
    p = str(tmp_path / "grey16.png")
    cv2.imwrite(p, ims[3].astype(np.uint16) * 257)
    cases.append(p)
    p = str(tmp_path / "bgr.png")
    cv2.imwrite(p, np.dstack([ims[1], ims[2], ims[4]]))
    cases.append(p)
    took = 0
    for p in cases:
        want = to_mask(cv2.cvtColor(cv2.imread(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
        np.testing.assert_array_equal(_binary_frame(p, 160, 90), want, err_msg=p)
        took += _grey_png_mask(p, 160, 90) is not None
    # Pillow's files use rows with other filters: not all could take the direct path
    assert took < len(cases)
    assert _grey_png_mask(cases[-1], 160, 90) is None and _grey_png_mask(cases[-2], 160, 90) is None


def test_damaged_grey_png_mask_is_an_error_not_garbage(tmp_path):
    """A byte flipped in the compressed data fails the chunk checksum: the
    direct path declines and the reader reports the file as undecodable,
    as it did before."""
    from vedit.errors import MediaError
    from vedit.io.masks import _binary_frame, _grey_png_mask

    im = _blob_masks(np.random.default_rng(0))[1]
    p = tmp_path / "bad.png"
    cv2.imwrite(str(p), im)
    data = bytearray(p.read_bytes())
    data[45] ^= 0x5A  # inside the IDAT chunk
    p.write_bytes(bytes(data))
    assert _grey_png_mask(str(p), 160, 90) is None
    with pytest.raises(MediaError):
        _binary_frame(str(p), 160, 90)


def test_a_deflate_stream_that_breaks_off_is_declined_by_either_inflater(tmp_path, inflater):
    """Compressed data that is not a whole deflate stream (its chunk
    checksum recomputed, so only the inflater can tell): the direct path
    declines instead of returning a partial mask."""
    import struct
    import zlib

    from vedit.io.masks import _grey_png_mask

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    def png(idat):
        ihdr = struct.pack(">IIBBBBB", 160, 90, 8, 0, 0, 0, 0)
        p = tmp_path / "m.png"
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
        return str(p)

    im = _blob_masks(np.random.default_rng(0))[1]
    whole = zlib.compress(b"".join(b"\x00" + im[y].tobytes() for y in range(im.shape[0])))
    assert _grey_png_mask(png(whole[:-9]), 160, 90) is None  # ends early
    assert _grey_png_mask(png(whole[:40] + b"\xff" * 8), 160, 90) is None  # garbage inside
    # the same construction with the whole stream is taken, so the test can fail
    np.testing.assert_array_equal(_grey_png_mask(png(whole), 160, 90), im)


@pytest.mark.parametrize("level", [1, 9])
def test_full_hd_masks_decoded_piecewise_equal_opencv(tmp_path, level):
    """1080p masks span many of the pieces the direct decoder inflates at a
    time: a disc moving over the frame, a bar down to the last row (a run of
    Up rows to the end), a lone pixel and an empty mask decode to OpenCV's
    values (and a soft ramp across piece boundaries too, by whichever path
    its row filters allow)."""
    from vedit.io.masks import _PIECE_BYTES, _binary_frame, _grey_png_mask

    h, w = 1080, 1920
    assert h * (w + 1) > 8 * _PIECE_BYTES
    yy, xx = np.mgrid[:h, :w]
    ims = []
    for i in (0, 40, 99):
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (int(w * (0.2 + 0.6 * i / 99)), int(h * (0.55 + 0.05 * np.sin(i / 7.0)))), 65, 255, -1)
        ims.append(m)
    ims.append(((yy >= 700) & (xx >= 300) & (xx < 900)).astype(np.uint8) * 255)
    ims.append(np.clip((xx - 600) // 3 + (yy - 400) // 2, 0, 255).astype(np.uint8) * ((yy > 20) & (yy < 1000)))
    lone = np.zeros((h, w), np.uint8)
    lone[517, 1033] = 255
    ims += [lone, np.zeros((h, w), np.uint8)]
    for i, im in enumerate(ims):
        p = str(tmp_path / f"hd{i}.png")
        cv2.imwrite(p, im, [cv2.IMWRITE_PNG_COMPRESSION, level])
        want = cv2.threshold(cv2.imread(p, cv2.IMREAD_UNCHANGED), 127, 255, cv2.THRESH_BINARY)[1]
        fast = _grey_png_mask(p, w, h)
        if i == 4 and fast is None:  # the ramp: OpenCV may store Average/Paeth rows (libpng's job)
            fast = _binary_frame(p, w, h)
        assert fast is not None, i
        np.testing.assert_array_equal(fast, want, err_msg=str(i))
        _check_remembered_box(fast)


@pytest.mark.parametrize("kind", ["sequence", "video", "still"])
def test_binary_masks_are_read_only_with_their_box(tmp_path, kind):
    """Every binary mask a MaskSource yields is read-only (the engine then
    reuses its box instead of scanning the frame), whichever way it was
    read; its box is the box of its white pixels."""
    frames = [np.zeros((64, 96, 3), np.uint8) for _ in range(3)]
    masks = []
    for i in range(3):
        m = np.zeros((64, 96), np.uint8)
        cv2.circle(m, (20 + 25 * i, 30), 9, 255, -1)
        masks.append(m)
    src = tmp_path / "src"
    src.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(src / f"f{i:03d}.png"), f)
    if kind == "sequence":
        path = tmp_path / "m"
        path.mkdir()
        for i, m in enumerate(masks):
            cv2.imwrite(str(path / f"m{i:03d}.png"), m)
    elif kind == "video":
        from vedit.io import open_writer

        path = tmp_path / "m.mkv"
        with open_writer(str(path), 10, (96, 64), codec="ffv1") as w:
            for m in masks:
                w.write(np.dstack([m] * 3))
    else:
        path = tmp_path / "m.png"
        cv2.imwrite(str(path), masks[1])
        masks = [masks[1]] * 3
    got = list(open_masks(str(path), open_clip(str(src))))
    assert len(got) == 3
    for g, want in zip(got, masks):
        np.testing.assert_array_equal(g, want)
        _check_remembered_box(g)
