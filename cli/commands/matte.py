from vedit.ops.matte import OP
from vedit_cli.options import op_command

command = op_command(OP, "matte", output_help="Folder/ for a PNG sequence, or .mp4/.mkv (grey matte), "
                                              "or .mov/.webm with --alpha.")
