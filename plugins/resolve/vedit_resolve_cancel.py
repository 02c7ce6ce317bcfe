"""Cancel the vedit job vedit_resolve is waiting for: Workspace > Scripts >
vedit_resolve_cancel (copy it beside vedit_resolve.py).

It leaves ``vedit_resolve.cancel`` beside the scripts, which the waiting script
sees on its next poll (it cancels the job on the server and stops), and also
cancels the job on the server directly, from ``vedit_resolve.job`` (the job
id, the server's url and the ``ca_file`` the waiting script trusts) with the
token of the settings files vedit_resolve reads (else vedit's token file)."""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def settings_token() -> str | None:
    """The ``token`` of vedit_resolve's settings files, the file beside the
    scripts first; None where they set none (or vedit_resolve is not beside
    this script)."""
    sys.path.insert(0, HERE)
    try:
        import vedit_resolve

        for path in reversed(vedit_resolve.settings_files()):
            if os.path.isfile(path):
                token = vedit_resolve.read_settings_file(path).get("token")
                if token:
                    return str(token)
    except (ImportError, OSError, ValueError):
        pass
    finally:
        sys.path.pop(0)
    return None


def main() -> int:
    with open(os.path.join(HERE, "vedit_resolve.cancel"), "w", encoding="utf-8") as f:
        f.write("cancel\n")
    try:
        with open(os.path.join(HERE, "vedit_resolve.job"), encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, ValueError):
        print("vedit: no running vedit_resolve job found")
        return 0
    sys.path.insert(0, HERE)
    try:
        from vedit.server.client import VeditClient
    except ImportError:
        from vedit_client import VeditClient  # type: ignore[no-redef]
    finally:
        sys.path.pop(0)
    try:
        VeditClient(job.get("url"), settings_token(), cafile=job.get("cafile") or None).cancel(job["id"])
        print(f"vedit: cancelled job {job['id']}")
    except Exception as exc:  # the waiting script still sees the cancel file
        print(f"vedit: could not reach the server ({exc}); the running script will cancel on its next poll")
    return 0


if __name__ == "__main__":
    sys.exit(main())
