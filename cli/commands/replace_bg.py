from vedit.ops.replace_bg import OP
from vedit_cli.options import op_command

command = op_command(OP, "replace-bg", output_help="Output video (.mp4 .mov .webm .mkv .gif) or folder/ for PNGs.")
