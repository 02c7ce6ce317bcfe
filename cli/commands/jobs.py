import json

import click

_url = click.option("--url", default=None, help="Server URL (default $VEDIT_URL or http://127.0.0.1:8765).")
_token = click.option("--token", default=None, help="Token (default: the token file in $VEDIT_HOME).")


def _client(url, token):
    from vedit.server.client import VeditClient

    return VeditClient(url=url, token=token)


def _line(j: dict) -> str:
    pct = f"{100 * (j.get('progress') or 0):5.1f}%"
    what = j.get("output") or ""
    if j.get("error") and j["status"] in ("failed", "cancelled"):
        what = j["error"]
    return f"{j['id']:<13} {j['status']:<10} {pct} {(j.get('op') or ''):<10} {(j.get('stage') or '')[:16]:<16} {what}"


@click.group("jobs")
def command():
    """List, show or cancel jobs on a running server."""


@command.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "failed", "cancelled"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=None, type=click.IntRange(1), help="Show at most N jobs (default: every job kept).")
@click.option("--page-size", default=100, show_default=True, type=click.IntRange(1, 500),
              help="Jobs fetched per request.")
@_url
@_token
def list_cmd(status, as_json, limit, page_size, url, token):
    """Every job the server keeps, newest first (all pages; --limit to stop early)."""
    jobs = _all_jobs(_client(url, token), status, limit, page_size)
    if as_json:
        click.echo(json.dumps(jobs, indent=2))
        return
    click.echo(f"{'id':<13} {'status':<10} {'done':>6} {'op':<10} {'stage':<16} output / error")
    for j in jobs:
        click.echo(_line(j))


def _all_jobs(client, status, limit, page_size) -> list:
    """Jobs newest first, following the server's pages until ``limit`` (or the end);
    a job seen on two pages (one submitted while walking) is listed once."""
    jobs: list = []
    seen_ids: set = set()
    seen_cursors: set = set()
    cursor = None
    while True:
        want = page_size if limit is None else min(page_size, limit - len(jobs))
        page, cursor = client.page(status=status, limit=want, cursor=cursor)
        for j in page:
            if j.get("id") not in seen_ids:
                seen_ids.add(j.get("id"))
                jobs.append(j)
        if not cursor or cursor in seen_cursors or (limit is not None and len(jobs) >= limit):
            return jobs if limit is None else jobs[:limit]
        seen_cursors.add(cursor)


@command.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_url
@_token
def show_cmd(job_id, as_json, url, token):
    """One job in full."""
    j = _client(url, token).get(job_id)
    if as_json:
        click.echo(json.dumps(j, indent=2))
        return
    for k, v in j.items():
        click.echo(f"{k:>16}: {v}")


@command.command("delete")
@click.argument("job_id")
@_url
@_token
def delete_cmd(job_id, url, token):
    """Forget a finished job (its output file stays)."""
    _client(url, token).delete(job_id)
    click.echo(f"deleted {job_id}")


@command.command("cancel")
@click.argument("job_id")
@_url
@_token
def cancel_cmd(job_id, url, token):
    """Cancel a job (a running one stops at its next frame and leaves no output)."""
    j = _client(url, token).cancel(job_id)
    click.echo(_line(j))


@command.command("submit")
@click.argument("spec", type=click.File("r"))
@click.option("--wait", is_flag=True, help="Wait for the job to finish.")
@_url
@_token
def submit_cmd(spec, wait, url, token):
    """Submit a job spec (a JSON file, or - for stdin); prints the job id."""
    from vedit.errors import InvalidInputError

    try:
        body = json.load(spec)
    except ValueError as exc:
        raise InvalidInputError(f"spec {spec.name}: not valid JSON ({exc})") from None
    c = _client(url, token)
    job_id = c.submit(body)
    click.echo(job_id)
    if wait:
        j = c.wait(job_id)
        click.echo(_line(j))
        if j["status"] != "done":
            raise SystemExit(1)
