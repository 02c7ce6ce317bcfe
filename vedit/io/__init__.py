"""Media I/O: clips (video files, image sequences, stills) in, encoded files out.

Frames are numpy arrays, HxWx3 uint8 RGB (HxWx4 with alpha). Memory is bounded:
readers stream frame by frame, writers stream into an encoder process.
"""
from vedit.io.clip import MIN_FLOW_SIDE, Clip, Colour, exact_fps, is_sequence_path, open_clip, probe, require_flow_size  # noqa: F401
from vedit.io.ffmpeg import ffmpeg_exe  # noqa: F401
from vedit.io.masks import MaskSource, open_masks  # noqa: F401
from vedit.io.writer import Writer, check_output_path, offset_timecode, open_writer, output_kind  # noqa: F401
