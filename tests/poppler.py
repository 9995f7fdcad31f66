"""PDFs read back with Poppler's tools (Debian's poppler-utils: pdftotext, pdftoppm, pdffonts, pdfinfo),
as a person checking a published file would. A missing tool fails the test, never skips it."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

INSTALL = "apt-get update && apt-get install -y poppler-utils"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed; these tests read PDFs back with it. Install it with: {INSTALL}"
        )
    return path


def _run(name: str, content: bytes, *arguments: str) -> str:
    with tempfile.TemporaryDirectory(prefix="parindex-pdf-") as folder:
        pdf = Path(folder) / "file.pdf"
        pdf.write_bytes(content)
        done = subprocess.run(
            [_tool(name), *[str(pdf) if a == "{pdf}" else a for a in arguments]],
            capture_output=True,
            timeout=120,
        )
    assert done.returncode == 0, f"{name} failed: {done.stderr.decode(errors='replace')}"
    return done.stdout.decode("utf-8")


def pdf_pages(content: bytes) -> list[str]:
    """Each page's text, laid out as on the page (`pdftotext -layout`): a table row stays one line."""
    text = _run("pdftotext", content, "-layout", "-enc", "UTF-8", "{pdf}", "-")
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    """The text with every run of blanks and line ends as one space (a sentence wrapped in a cell)."""
    return re.sub(r"\s+", " ", text).strip()


def row_cells(line: str) -> list[str]:
    """A table row of `pdftotext -layout` output, cut where two or more spaces part the columns."""
    return re.split(r"\s{2,}", line.strip())


def page_sizes(content: bytes) -> list[tuple[float, float]]:
    """(width, height) of every page in points."""
    info = _run("pdfinfo", content, "-f", "1", "-l", "100000", "{pdf}")
    return [
        (float(width), float(height))
        for width, height in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info, re.MULTILINE)
    ]


def pdf_fonts(content: bytes) -> list[dict[str, str]]:
    """pdffonts' table: name, type, encoding and the emb, sub, uni flags of every font used."""
    lines = _run("pdffonts", content, "{pdf}").splitlines()[2:]
    fonts = []
    for line in lines:
        fields = line.split()
        # name, type words…, encoding, emb, sub, uni, object, generation
        fonts.append({"name": fields[0], "emb": fields[-5], "sub": fields[-4], "uni": fields[-3]})
    return fonts


def render_page(content: bytes, number: int, path: Path, resolution: int = 100) -> Path:
    """Page `number` (from 1) as a PNG at `path` (`pdftoppm -png -singlefile`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(
        "pdftoppm",
        content,
        "-png",
        "-r",
        str(resolution),
        "-f",
        str(number),
        "-l",
        str(number),
        "-singlefile",
        "{pdf}",
        str(path.with_suffix("")),
    )
    assert path.is_file() and path.stat().st_size > 5_000, f"pdftoppm wrote no picture at {path}"
    return path
