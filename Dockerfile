# ParIndex web and worker image (docker-compose.yml runs both from it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Import the project from /app, not the copy `pip install .` puts in site-packages: settings find
    # templates/, static/ and locale/ next to the parindex package.
    PYTHONPATH=/app \
    DJANGO_DEBUG=0 \
    PARINDEX_VAR_DIR=/data \
    PARINDEX_MEDIA_ROOT=/data/media \
    PARINDEX_MANIFEST_STATIC=1

WORKDIR /app

# The PDF annexes are the Word file converted by LibreOffice Writer in the worker (reports/annex/pdf.py):
# Writer without its desktop parts, and Liberation Serif 2 (Times New Roman's metric twin, with the
# Vietnamese letters) for LibreOffice to lay out and embed. Poppler's tools are for the tests, not here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/* \
 && test -f /usr/lib/libreoffice/program/libswlo.so \
 && soffice --version

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
 && DJANGO_SECRET_KEY=collectstatic-only PARINDEX_SITE_URL=http://collectstatic.invalid python manage.py collectstatic --no-input -v 0 \
 && useradd --system --uid 10001 --home-dir /app parindex \
 && mkdir -p /data/media \
 && chown -R parindex /data

USER parindex
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=4).status != 200)"

CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn parindex.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-3} --timeout 120 --access-logfile -"]
