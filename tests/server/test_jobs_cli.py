"""`vedit jobs list` against a real server: every page, newest first, --limit."""
from __future__ import annotations

import json

from click.testing import CliRunner

from vedit.server.client import VeditClient


def test_jobs_list_walks_every_page(live_server, clip_dir, h):
    from vedit_cli.main import main

    url, token, _ = live_server
    root, seq, _, _ = clip_dir
    c = VeditClient(url, token)
    # the worker is busy with the first job; the others wait in the queue
    ids = [c.submit(h.spec(seq, root / "busy.mp4", delay=0.5))]
    ids += [c.submit(h.spec(seq, root / f"o{i}.mp4")) for i in range(19)]
    newest_first = ids[::-1]
    try:
        assert len(c.list(limit=7)) == 7  # one page is not all of them
        r = CliRunner()
        out = r.invoke(main, ["jobs", "list", "--json", "--page-size", "7", "--url", url])
        assert out.exit_code == 0, out.output
        assert [j["id"] for j in json.loads(out.output)] == newest_first
        # the default page size, as a table
        out = r.invoke(main, ["jobs", "list", "--url", url])
        assert out.exit_code == 0, out.output
        rows = out.output.splitlines()[1:]
        assert [line.split()[0] for line in rows] == newest_first
        # --limit stops early, across page boundaries
        out = r.invoke(main, ["jobs", "list", "--json", "--limit", "9", "--page-size", "4", "--url", url])
        assert [j["id"] for j in json.loads(out.output)] == newest_first[:9]
        out = r.invoke(main, ["jobs", "list", "--json", "--status", "queued", "--page-size", "5", "--url", url])
        queued = [j["id"] for j in json.loads(out.output)]
        assert set(queued) <= set(ids[1:]) and len(queued) >= 18 and queued == [i for i in newest_first if i in queued]
    finally:
        for i in ids:
            c.cancel(i)
