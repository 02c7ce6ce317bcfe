"""The vedit command-line interface (installed as the ``vedit_cli`` package)."""
