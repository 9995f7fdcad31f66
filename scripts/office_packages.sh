#!/usr/bin/env bash
# The Debian packages behind the PDF annexes and the tests marked `libreoffice`, checked by what each
# provides (not by dpkg, so a LibreOffice installed otherwise counts too):
#   libreoffice-calc-nogui    soffice with Calc (libsclo.so): tests/test_real_files.py converts workbooks;
#   libreoffice-writer-nogui  soffice with Writer (libswlo.so): the PDF annexes are the Word file converted
#                             by Writer (reports/annex/pdf.py), in the worker and in the tests;
#   poppler-utils             pdftotext, pdftoppm, pdffonts, pdfinfo: the tests read the PDFs back;
#   fonts-liberation2         Liberation Serif 2.x, Times New Roman's metric twin with the Vietnamese letters
#                             (the 1.x of fonts-liberation lacks them).
# soffice alone is not enough: with only Writer a workbook "could not be loaded", with only Calc a Word file.
#
#   scripts/office_packages.sh            print the missing packages; exit 1 when some are missing
#   scripts/office_packages.sh --install  install the missing ones with apt-get (as root, else with sudo)
set -euo pipefail

LO_PROGRAM=${PARINDEX_LO_PROGRAM:-/usr/lib/libreoffice/program}
LIBERATION_SERIF=/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf

missing() {
  local has_soffice=0
  command -v soffice >/dev/null 2>&1 && has_soffice=1
  [ "$has_soffice" = 1 ] && [ -f "$LO_PROGRAM/libsclo.so" ] || echo libreoffice-calc-nogui
  [ "$has_soffice" = 1 ] && [ -f "$LO_PROGRAM/libswlo.so" ] || echo libreoffice-writer-nogui
  for tool in pdftotext pdftoppm pdffonts pdfinfo; do
    command -v "$tool" >/dev/null 2>&1 || { echo poppler-utils; break; }
  done
  [ -f "$LIBERATION_SERIF" ] || echo fonts-liberation2
}

packages=$(missing | tr '\n' ' ' | sed 's/ *$//')
if [ -z "$packages" ]; then
  echo "LibreOffice Calc and Writer, Poppler and Liberation Serif 2 are installed"
  exit 0
fi
if [ "${1:-}" != "--install" ]; then
  echo "missing: $packages (install: apt-get update && apt-get install -y --no-install-recommends $packages)"
  exit 1
fi
command -v apt-get >/dev/null 2>&1 \
  || { echo "missing: $packages, and there is no apt-get here: install their equivalents" >&2; exit 1; }
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 \
    || { echo "missing: $packages; not root and no sudo: run 'apt-get install -y $packages' as root" >&2; exit 1; }
  sudo=sudo
fi
echo "installing Debian packages: $packages"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086  # one word per package
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages >/dev/null
still=$(missing | tr '\n' ' ' | sed 's/ *$//')
if [ -n "$still" ]; then
  echo "still missing after apt-get install: $still (soffice with $LO_PROGRAM/libsclo.so and libswlo.so," \
    "pdftotext/pdftoppm/pdffonts/pdfinfo, $LIBERATION_SERIF)" >&2
  exit 1
fi
echo "installed: $packages"
