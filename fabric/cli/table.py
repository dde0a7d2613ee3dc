"""Docker-style table output and --format templates."""

import click


def render_format(fmt: str, data) -> str:
    from fabric.cli.gotemplate import TemplateError, render
    try:
        return render(fmt, data)
    except TemplateError as e:
        raise click.ClickException(f"template parsing error: {e}") from None


def print_rows(rows: list[dict], columns: list[tuple[str, str]], fmt: str | None = None) -> None:
    """Docker's listing output: with a --format template (not `table ...`) one rendered
    line per row; otherwise columns padded to their widest cell plus three spaces, as
    Docker's tabwriter, under a header."""
    if fmt and not fmt.startswith("table"):
        for r in rows:
            click.echo(render_format(fmt, r))
        return
    if fmt and fmt.startswith("table"):
        tmpl = fmt[len("table"):].strip()
        keys = [k for k in _keys(tmpl)]
        heads = {v: h for h, v in columns}
        header = render_format(tmpl, {k: heads.get(k, k.upper()) for k in keys})
        lines = [header] + [render_format(tmpl, r) for r in rows]
        print_aligned([ln.split("\t") for ln in lines])
        return
    print_aligned([[h for h, _ in columns]] +
                  [[str(r.get(k, "")) for _, k in columns] for r in rows])


def print_aligned(rows: list[list[str]]) -> None:
    """Cells padded to their column's widest plus three spaces, as Docker's tabwriter."""
    n = max((len(r) for r in rows), default=0)
    widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(n)]
    for r in rows:
        click.echo("   ".join(c.ljust(widths[i]) if i < len(r) - 1 else c
                              for i, c in enumerate(r)).rstrip())


def _keys(tmpl: str) -> list[str]:
    import re
    return re.findall(r"\{\{\s*\.(\w+)\s*\}\}", tmpl)

