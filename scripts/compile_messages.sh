#!/usr/bin/env bash
# Merge the Vietnamese translation fragments (one per area of the code, so that parallel work never
# edits one file) into locale/vi/LC_MESSAGES/django.po and compile it. The .mo is committed, so a
# fresh machine needs no gettext tools; run this after editing any locale/fragments/*.po.
set -euo pipefail
cd "$(dirname "$0")/.."
out=locale/vi/LC_MESSAGES
mkdir -p "$out"
msgcat --use-first --no-wrap -o "$out/django.po" locale/fragments/*.po
msgfmt --check-format -o "$out/django.mo" "$out/django.po"
echo "compiled $(grep -c '^msgid "' "$out/django.po") messages into $out/django.mo"
