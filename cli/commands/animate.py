from vedit.ops.animate import OP
from vedit_cli.options import op_command

command = op_command(OP, "animate", argument="IMAGE", frames="start", doc=OP.help + """

\b
vedit animate portrait.jpg -o out.mp4 --camera dolly-in --duration 4
vedit animate lake.png -o loop.mp4 --engine motion --region water.png \\
      --motion 100,400,260,400 --loop
vedit animate shot.png -o out.mp4 --engine diffusion --model ./svd-xt --pin-first
""")
