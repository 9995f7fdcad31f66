"""The annexes as a PDF: the Word file of reports.annex.docx converted by LibreOffice Writer headless
(`soffice --headless --convert-to pdf`), so that the PDF is the Word layout itself — one layout, not two
drawings of the same content that could drift apart.

Each conversion runs in a temporary folder of its own with its own LibreOffice profile
(`-env:UserInstallation`) and HOME: two workers converting at once never share a profile (a shared one
makes the second soffice hand its job to the first, or fail on the profile's lock), and the worker's
user needs no writable home. A conversion that outlives PARINDEX_SOFFICE_TIMEOUT seconds is killed with
its whole process group (soffice starts soffice.bin as a child).

LibreOffice embeds the fonts it lays the text out with: Times New Roman where it is installed, else
Liberation Serif (Debian's fonts-liberation2; the Word file names it as Times New Roman's alternative).

Without soffice, or with a LibreOffice that has no Writer (libreoffice-calc-nogui alone, say), the PDF is
refused with a message saying what to install, before anything is built.
"""

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path, PurePath
from typing import IO

from django.conf import settings
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from reports.annex.content import AnnexDocument
from reports.annex.docx import write_docx

# Writer's library in LibreOffice's program folder (Linux, macOS, Windows): soffice starts without it,
# then fails to load a Word file ("source file could not be loaded").
WRITER_LIBRARIES = ("libswlo.so", "libswlo.dylib", "swlo.dll")
INSTALL_HINT = "apt-get install -y libreoffice-writer-nogui"

SOFFICE_MISSING = N_(
    "LibreOffice is not installed (no %(program)s program was found), so the PDF annexes cannot be "
    "written; the Word file can. Install LibreOffice Writer: %(hint)s."
)
WRITER_MISSING = N_(
    "LibreOffice Writer is not installed (%(library)s is missing from %(folder)s), so the PDF annexes "
    "cannot be written; the Word file can. Install it: %(hint)s."
)
CONVERSION_TIMEOUT = N_(
    "LibreOffice did not finish converting the annexes to PDF within %(seconds)s seconds; it was stopped. "
    "Try again, or download the Word file."
)
CONVERSION_FAILED = N_("LibreOffice could not convert the annexes to PDF (exit code %(code)s): %(output)s")


def soffice_program() -> Path:
    """The soffice program to convert with (settings.PARINDEX_SOFFICE, else `soffice` or `libreoffice`
    on PATH), checked to have Writer beside it."""
    configured = getattr(settings, "PARINDEX_SOFFICE", "")
    if configured:
        found = configured if Path(configured).is_file() else None
    else:
        found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise ServiceError(
            SOFFICE_MISSING,
            code=ErrorCode.INVALID,
            params={"program": configured or "soffice", "hint": INSTALL_HINT},
        )
    program = Path(found)
    folder = program.resolve().parent  # /usr/bin/soffice → /usr/lib/libreoffice/program/soffice
    if not any((folder / library).is_file() for library in WRITER_LIBRARIES):
        raise ServiceError(
            WRITER_MISSING,
            code=ErrorCode.INVALID,
            params={"library": WRITER_LIBRARIES[0], "folder": str(folder), "hint": INSTALL_HINT},
        )
    return program


def _stop(process: subprocess.Popen) -> None:
    """Kill soffice and the soffice.bin it started (their own process group), then reap them."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
            os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def docx_to_pdf(source: bytes, out: str | PurePath | IO[bytes], *, timeout: float | None = None) -> None:
    """Convert a Word file's bytes to PDF with LibreOffice Writer into a path or binary file."""
    program = soffice_program()
    seconds = timeout if timeout is not None else settings.PARINDEX_SOFFICE_TIMEOUT
    with tempfile.TemporaryDirectory(prefix="parindex-soffice-") as folder:
        work = Path(folder)
        document = work / "phu-luc.docx"
        document.write_bytes(source)
        command = [
            str(program),
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(work / "out"),
            str(document),
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=work,
            env={**os.environ, "HOME": str(work)},
            start_new_session=True,  # its own process group, killed whole on a timeout
        )
        try:
            output, _ = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise ServiceError(
                CONVERSION_TIMEOUT, code=ErrorCode.INVALID, params={"seconds": int(seconds)}
            ) from None
        finally:  # also when the task is interrupted (Celery's soft time limit): no soffice left behind
            if process.returncode is None:
                _stop(process)
        result = work / "out" / "phu-luc.pdf"
        if process.returncode != 0 or not result.is_file() or result.read_bytes()[:5] != b"%PDF-":
            said = output.decode("utf-8", "replace").strip().splitlines()
            raise ServiceError(
                CONVERSION_FAILED,
                code=ErrorCode.INVALID,
                params={"code": process.returncode, "output": " ".join(said[-3:]) or "—"},
            )
        if isinstance(out, str | PurePath):
            shutil.copyfile(result, out)
        else:
            with result.open("rb") as pdf:
                shutil.copyfileobj(pdf, out)


def write_pdf(annex: AnnexDocument, out: str | PurePath | IO[bytes]) -> None:
    """The annexes as PDF: their Word file, converted."""
    word = io.BytesIO()
    write_docx(annex, word)
    docx_to_pdf(word.getvalue(), out)
