"""Maps the top-level ``cli/`` folder to the ``vedit_cli`` package so no generic
``cli`` package lands in site-packages; everything else is in pyproject.toml."""
from setuptools import find_packages, setup

packages = find_packages(include=["vedit", "vedit.*"])
packages += ["vedit_cli" + p[3:] for p in find_packages(include=["cli", "cli.*"])]
setup(packages=packages, package_dir={"vedit_cli": "cli"}, package_data={"vedit": ["py.typed"]})
