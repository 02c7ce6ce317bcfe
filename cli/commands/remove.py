from vedit.ops.remove import OP
from vedit_cli.options import op_command

command = op_command(OP, "remove")
