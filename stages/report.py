"""Stage `report`: papermill executes reports/report.ipynb over the metrics, nbconvert renders it
to standalone HTML (code hidden, images embedded, no CDN scripts): reports/report.html, plus the
figures the README shows (reports/freeze_sweep.png, reports/frontier.png)."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.config.params import load_params, stage_main
from stages.lib.runtime.outputs import write_text


def to_html(notebook: Path) -> str:
    """Standalone HTML: code cells hidden, no script fetched from a CDN."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, mathjax_url="", require_js_url="")
    html, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return re.sub(r'<script src="">\s*</script>\s*', "", html)


def render(notebook: Path, parameters: dict, html: Path, figures: tuple[Path, ...]) -> None:
    """Execute `notebook` with `parameters`; write its HTML, and each of `figures` it drew."""
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        executed, drawn = Path(tmp) / notebook.name, Path(tmp) / "figures"
        drawn.mkdir()
        papermill.execute_notebook(str(notebook), str(executed), cwd=".", kernel_name="python3",
                                   parameters={**parameters, "figures_dir": str(drawn)})
        write_text(html, to_html(executed))
        for figure in figures:
            if (drawn / figure.name).is_file():
                shutil.move(drawn / figure.name, figure)


@stage_main
def main() -> None:
    parameters = {**settings.report(load_params()), "metrics_dir": str(paths.METRICS)}
    render(paths.REPORT_NOTEBOOK, parameters, paths.REPORT_HTML, paths.REPORT_FIGURES)
    print(f"report: wrote {', '.join(str(p) for p in (paths.REPORT_HTML, *paths.REPORT_FIGURES) if p.is_file())}")


if __name__ == "__main__":
    main()
