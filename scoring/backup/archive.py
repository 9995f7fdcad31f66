"""Backup and restore of one year: `year_export` writes a framework and everything of it into one zip
archive; `year_import` restores such an archive into a database that does not hold that framework.

The archive (format "parindex-year", version 1)::

    manifest.json            format, app version, migrations applied, framework, created at,
                             counts per model, the SHA-256 of every other member
    data/NN-app.model.json   the rows of each part of scoring.backup.registry, in its order,
                             as Django's "python" serializer writes them (users by username)
    files/<storage name>     every stored file the rows name (evidence, uploaded originals …)

Rows keep the primary keys of the database they came from only as labels: restoring gives every
row a new key and rewrites each foreign key, many-to-many value and plain id column (the audit
trail's) through a map old key → new key, so that no key needs to be free in the target database.
Units are matched by code and users by username: a unit already there with the same name and kind
is reused (another name or kind refuses the archive), a user already there is reused, a missing one
is created without a usable password.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import FileField, Model
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_noop as N_

from parindex.dbguard import unlock_published
from parindex.errors import ErrorCode, ServiceError
from scoring.backup.registry import REGISTRY, Part, units_involved
from scoring.models import Framework

FORMAT = "parindex-year"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
# The apps whose migrations decide the shape of the rows.
APPS = ("auth", "units", "scoring", "reports", "audit")
USER_LABEL = "auth.User"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _app_version() -> str:
    try:
        return metadata.version("parindex")
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(settings.BASE_DIR) / "pyproject.toml"
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]


def _migrations(using: str = DEFAULT_DB_ALIAS) -> dict[str, list[str]]:
    applied = MigrationRecorder(connections[using]).applied_migrations()
    return {app: sorted(name for label, name in applied if label == app) for app in APPS}


def _member(index: int, part: Part) -> str:
    return f"data/{index:02d}-{part.label.lower()}.json"


def _file_fields(model: type[Model]) -> list[FileField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, FileField)]


def _is_user_model(model: Any) -> bool:
    return model is get_user_model()


# --- export ----------------------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder keeping microseconds (it cuts times to milliseconds): a restored history is
    ordered by its times exactly as the original."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


def _serialize(part: Part, rows) -> list[dict]:
    records = serializers.serialize("python", rows, use_natural_foreign_keys=True, fields=part.fields)
    for record in records:  # JSON-ready values (decimals, dates) in the format loaddata reads
        record["fields"] = json.loads(json.dumps(record["fields"], cls=_Encoder))
        record["pk"] = json.loads(json.dumps(record["pk"], cls=_Encoder))
    return records


def _referenced(model: type[Model], records: list[dict], target: type[Model]) -> set:
    """The keys of `target` rows that `records` point at (foreign keys and many-to-many values)."""
    found: set = set()
    for f in model._meta.get_fields():
        if not (f.concrete and f.is_relation and f.related_model is target):
            continue
        for record in records:
            value = record["pk"] if f.primary_key else record["fields"].get(f.name)
            if value is None:
                continue
            for item in value if f.many_to_many else [value]:
                found.add(tuple(item) if isinstance(item, list) else item)  # a natural key is a list
    return found


def _records_of(framework: Framework) -> dict[str, list[dict]]:
    """The rows of every part of the registry for `framework`, serialized."""
    user_model = get_user_model()
    by_label = {part.label: part for part in REGISTRY}
    records: dict[str, list[dict]] = {}
    for part in REGISTRY:
        if part.select is not None:
            records[part.label] = _serialize(part, part.select(framework).order_by("pk"))
    unit_part = by_label["units.Unit"]
    referenced_units: set = set()
    for label, rows in records.items():
        referenced_units |= _referenced(by_label[label].model, rows, unit_part.model)
    units = units_involved(framework, referenced_units)
    records[unit_part.label] = _serialize(unit_part, units.order_by("path", "pk"))
    membership = by_label["units.Membership"]
    records[membership.label] = _serialize(
        membership, membership.model.objects.filter(unit__in=units).order_by("pk")
    )
    usernames: set = set()
    for label, rows in records.items():
        usernames |= {key[0] for key in _referenced(by_label[label].model, rows, user_model)}
    records[USER_LABEL] = _serialize(
        by_label[USER_LABEL], user_model.objects.filter(username__in=usernames).order_by("pk")
    )
    return records


def _snapshot() -> None:
    """On PostgreSQL, read every part from one snapshot (REPEATABLE READ), so that an archive taken
    while people work holds no score without its assessment; the first statement of the transaction."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _copy(source: BinaryIO, target: BinaryIO) -> str:
    """Copy a file in chunks; its SHA-256."""
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def year_export(*, framework: Framework, out: str | Path | BinaryIO) -> dict:
    """Write the archive of `framework` to `out` (a path or a binary file); returns its manifest.
    Refused when a file the rows name is missing from storage (a backup must hold every file).
    Files are copied in chunks, never read whole into memory."""
    outermost = not connections[DEFAULT_DB_ALIAS].in_atomic_block
    with transaction.atomic():
        if outermost:
            _snapshot()
        records = _records_of(framework)
    files = sorted(
        {
            record["fields"][f.name]
            for part in REGISTRY
            for f in _file_fields(part.model)
            for record in records[part.label]
            if record["fields"].get(f.name)
        }
    )
    missing = [name for name in files if not default_storage.exists(name)]
    if missing:
        raise ServiceError(
            N_("These stored files are missing, so the archive would not be complete: %(files)s."),
            code=ErrorCode.NOT_FOUND,
            params={"files": ", ".join(missing)},
            obj=framework,
        )
    checksums: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for index, part in enumerate(REGISTRY, start=1):
            data = json.dumps(records[part.label], ensure_ascii=False, indent=1).encode("utf-8")
            archive.writestr(_member(index, part), data)
            checksums[_member(index, part)] = _sha256(data)
        for name in files:
            with (
                default_storage.open(name, "rb") as stored,
                archive.open(f"files/{name}", "w", force_zip64=True) as member,
            ):
                checksums[f"files/{name}"] = _copy(stored, member)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": _app_version(),
            "migrations": _migrations(),
            "framework": {
                "code": framework.code,
                "name": framework.name,
                "year": framework.year,
                "status": framework.status,
            },
            "created_at": timezone.now().isoformat(),
            "parts": [
                {"model": part.label, "member": _member(index, part), "count": len(records[part.label])}
                for index, part in enumerate(REGISTRY, start=1)
            ],
            "counts": {part.label: len(records[part.label]) for part in REGISTRY},
            "files": files,
            "checksums": checksums,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


# --- import ----------------------------------------------------------------------------------------


def _refused(message: str, *, code: str = ErrorCode.INVALID, **params: Any) -> ServiceError:
    return ServiceError(message, code=code, params=params)


def _member_sha256(archive: zipfile.ZipFile, member: str) -> str:
    digest = hashlib.sha256()
    with archive.open(member) as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checked_manifest(archive: zipfile.ZipFile) -> dict:
    """The manifest, once every member is checked against its checksum and every part and file it
    names is present: a damaged or tampered archive is refused before anything is read from it."""
    names = set(archive.namelist())
    if MANIFEST not in names:
        raise _refused(N_("This file is not a year archive of ParIndex (it has no manifest)."))
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except ValueError as exc:
        raise _refused(N_("The manifest of the archive cannot be read.")) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refused(N_("This file is not a year archive of ParIndex (it has no manifest)."))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _refused(
            N_(
                "The archive has format version %(version)s; this version of ParIndex reads version %(ours)s."
            ),
            version=manifest.get("format_version"),
            ours=FORMAT_VERSION,
        )
    checksums: dict[str, str] = manifest.get("checksums") or {}
    needed = {part["member"] for part in manifest.get("parts", [])} | {
        f"files/{name}" for name in manifest.get("files", [])
    }
    missing = sorted((needed | set(checksums)) - names)
    if missing:
        raise _refused(N_("The archive is incomplete: %(members)s missing."), members=", ".join(missing))
    unlisted = sorted(names - set(checksums) - {MANIFEST})
    if unlisted or needed - set(checksums):
        raise _refused(
            N_("The archive holds members its manifest does not vouch for: %(members)s."),
            members=", ".join(unlisted or sorted(needed - set(checksums))),
        )
    altered = sorted(
        member for member, digest in checksums.items() if _sha256(archive.read(member)) != digest
    )
    if altered:
        raise _refused(
            N_("The archive was altered after it was written (checksum mismatch): %(members)s."),
            members=", ".join(altered),
        )
    return manifest


@dataclass
class _Restore:
    """What a restore has done so far: old key → new key per model, files written."""

    keys: dict[str, dict[Any, Any]] = field(default_factory=lambda: defaultdict(dict))
    stored_names: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)


def _records(archive: zipfile.ZipFile, manifest: dict) -> dict[str, list[dict]]:
    records = {}
    for part in manifest["parts"]:
        rows = json.loads(archive.read(part["member"]))
        if len(rows) != part["count"] or manifest["counts"].get(part["model"]) != part["count"]:
            raise _refused(N_("The archive is inconsistent: %(members)s."), members=part["member"])
        records[part["model"]] = rows
    known = {part.label for part in REGISTRY}
    unknown = sorted(set(records) - known)
    if unknown:
        raise _refused(
            N_("The archive holds data this version of ParIndex does not know: %(models)s."),
            models=", ".join(unknown),
        )
    referenced = set()
    for part in REGISTRY:
        for f in _file_fields(part.model):
            referenced |= {
                r["fields"][f.name] for r in records.get(part.label, []) if r["fields"].get(f.name)
            }
    absent = sorted(referenced - set(manifest.get("files", [])))
    if absent:
        raise _refused(
            N_("The archive is incomplete: %(members)s missing."),
            members=", ".join(f"files/{name}" for name in absent),
        )
    return records


def _collisions(manifest: dict, records: dict[str, list[dict]]) -> list[ServiceError]:
    """What in the database stands in the way: the framework's code, units of the same code that are
    not the same unit, migrations the archive's data needs and the database lacks."""
    errors = []
    ours = _migrations()
    lacking = [
        f"{app}.{name}"
        for app, names in (manifest.get("migrations") or {}).items()
        for name in names
        if name not in ours.get(app, [])
    ]
    if lacking:
        errors.append(
            _refused(
                N_(
                    "The archive was written by a newer version of ParIndex; migrate the database first "
                    "(missing migrations: %(migrations)s)."
                ),
                migrations=", ".join(lacking),
            )
        )
    for part in REGISTRY:
        if part.on_existing != "refuse" or not records.get(part.label):
            continue
        (key,) = part.key
        archived = {record["fields"][key]: record["fields"] for record in records[part.label]}
        what = capfirst(part.model._meta.verbose_name)
        for row in part.model.objects.filter(**{f"{key}__in": list(archived)}).values(key, *part.same):
            theirs = [row[name] for name in part.same]
            ours = [archived[row[key]].get(name) for name in part.same]
            if not part.same:
                errors.append(
                    _refused(
                        N_("%(what)s %(key)s already exists in this database; the archive is not restored."),
                        code=ErrorCode.CONFLICT,
                        what=what,
                        key=row[key],
                    )
                )
            elif theirs != ours:
                errors.append(
                    _refused(
                        N_(
                            "%(what)s %(key)s exists in this database as %(theirs)s, the archive has "
                            "%(ours)s; the archive is not restored."
                        ),
                        code=ErrorCode.CONFLICT,
                        what=what,
                        key=row[key],
                        theirs="“" + ", ".join(map(str, theirs)) + "”",
                        ours="“" + ", ".join(map(str, ours)) + "”",
                    )
                )
    return errors


def _restore_files(archive: zipfile.ZipFile, manifest: dict, state: _Restore) -> None:
    """Write every file of the archive to storage under its own name, in chunks; a file already stored
    under that name with the same bytes is reused, another file of that name makes storage choose a
    free name."""
    for name in manifest.get("files", []):
        member = f"files/{name}"
        if default_storage.exists(name):
            digest = hashlib.sha256()
            with default_storage.open(name, "rb") as stored:
                while chunk := stored.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() == manifest["checksums"][member]:
                state.stored_names[name] = name
                continue
        with archive.open(member) as source:
            stored_name = default_storage.save(name, File(source, name=name.rsplit("/", 1)[-1]))
        state.written.append(stored_name)
        state.stored_names[name] = stored_name


def _restore_users(records: list[dict], state: _Restore) -> None:
    user_model = get_user_model()
    for record in records:
        fields = record["fields"]
        user = user_model.objects.filter(username=fields["username"]).first()
        if user is None:
            user = user_model(**{name: value for name, value in fields.items() if name != "username"})
            user.username = fields["username"]
            user.set_unusable_password()
            user.save()
        state.keys[USER_LABEL][record["pk"]] = user.pk


def _new_key(state: _Restore, label: str, old: Any, *, what: str) -> Any:
    try:
        return state.keys[label][old]
    except KeyError:
        raise _refused(
            N_("The archive is inconsistent: %(members)s."), members=f"{what} → {label} {old}"
        ) from None


def _restore_part(part: Part, records: list[dict], state: _Restore) -> None:
    """Insert the rows of one part with new keys, their foreign keys and plain ids rewritten; rows
    whose natural key is already in the database are reused. A foreign key to a row of the same model
    not inserted yet (a criterion's area is itself) is set once every row of the part is in."""
    model = part.model
    label = part.label
    keys = state.keys[label]
    later: list[tuple[Model, str, str, Any]] = []
    relations: list[tuple[Model, dict]] = []
    relation_fields = [f for f in model._meta.concrete_fields if f.is_relation]
    for deserialized in serializers.deserialize("python", records):
        obj = deserialized.object
        old_pk = obj.pk
        for f in relation_fields:
            if _is_user_model(f.related_model):
                continue  # resolved by username when deserialized
            old = getattr(obj, f.attname)
            if old is None:
                continue
            target = f.related_model._meta.label
            if old in state.keys[target]:
                setattr(obj, f.attname, state.keys[target][old])
            elif target == label and not f.primary_key:
                setattr(obj, f.attname, None)
                later.append((obj, f.attname, target, old))
            else:
                setattr(obj, f.attname, _new_key(state, target, old, what=f"{label}.{f.name}"))
        for column, target in part.id_columns.items():
            setattr(obj, column, state.keys[target].get(getattr(obj, column)))
        for column, (type_column, labels) in part.typed_id_columns.items():
            target = labels.get(getattr(obj, type_column))
            old = getattr(obj, column)
            setattr(obj, column, state.keys[target].get(old) if target and old is not None else None)
        for f in _file_fields(model):
            name = getattr(obj, f.attname).name
            if name:
                setattr(obj, f.attname, state.stored_names[name])
        if part.key:
            lookup = {
                model._meta.get_field(name).attname: getattr(obj, model._meta.get_field(name).attname)
                for name in part.key
            }
            existing = model.objects.filter(**lookup).values_list("pk", flat=True).first()
            if existing is not None:  # checked beforehand to be the same (units) or free (a framework)
                keys[old_pk] = existing
                continue
        if not model._meta.pk.is_relation:
            obj.pk = None
        Model.save_base(obj, raw=True, force_insert=True)
        keys[old_pk] = obj.pk
        relations.append((obj, deserialized.m2m_data))
    for obj, attname, target, old in later:
        setattr(obj, attname, _new_key(state, target, old, what=label))
        model.objects.filter(pk=obj.pk).update(**{attname: getattr(obj, attname)})
    for obj, m2m in relations:
        for name, values in m2m.items():
            f = model._meta.get_field(name)
            target = f.related_model._meta.label
            if not _is_user_model(f.related_model):
                values = [_new_key(state, target, value, what=f"{label}.{name}") for value in values]
            getattr(obj, name).set(values)
    if label == "units.Unit":
        _place_units([obj for obj, _m2m in relations])


def _place_units(units: list[Model]) -> None:
    """Materialised paths of the units inserted (units.models.Unit.path), parents before children."""
    unit_model = type(units[0]) if units else None
    if unit_model is None:
        return
    paths = dict(unit_model.objects.exclude(pk__in=[u.pk for u in units]).values_list("pk", "path"))
    pending = {unit.pk: unit.parent_id for unit in units}
    while pending:
        ready = {pk: parent for pk, parent in pending.items() if parent is None or parent in paths}
        if not ready:
            raise _refused(N_("The archive is inconsistent: %(members)s."), members="units.Unit.parent")
        for pk, parent in ready.items():
            paths[pk] = (paths[parent] if parent else "/") + f"{pk}/"
            unit_model.objects.filter(pk=pk).update(path=paths[pk])
            del pending[pk]


def _remove(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def year_import(*, source: str | Path | BinaryIO) -> Framework:
    """Restore an archive written by `year_export`, all or nothing: refused (nothing written) when the
    archive is damaged or altered, or when the database already holds its framework or another unit
    under one of its unit codes. Files written before a failure are removed again."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refused(N_("This file is not a year archive of ParIndex (it has no manifest).")) from exc
    with archive:
        try:
            manifest = _checked_manifest(archive)
            records = _records(archive, manifest)
            errors = _collisions(manifest, records)
        except (KeyError, TypeError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
            raise _refused(N_("The archive is inconsistent: %(members)s."), members=repr(exc)) from exc
        if errors:
            raise ServiceError.group(errors, code=errors[0].error_code)
        state = _Restore()
        try:
            with transaction.atomic():
                unlock_published()
                _restore_files(archive, manifest, state)
                _restore_users(records.get(USER_LABEL, []), state)
                for part in REGISTRY[1:]:
                    _restore_part(part, records.get(part.label, []), state)
                framework = Framework.objects.get(pk=next(iter(state.keys["scoring.Framework"].values())))
                _check_results(framework, records, state)
        except (
            DeserializationError,
            FieldDoesNotExist,
            ValidationError,
            KeyError,
            TypeError,
            ValueError,
        ) as exc:
            _remove(state.written)
            if isinstance(exc, ServiceError):
                raise
            raise _refused(N_("The archive is inconsistent: %(members)s."), members=str(exc)) from exc
        except BaseException:
            _remove(state.written)
            raise
    return framework


def _check_results(framework: Framework, records: dict[str, list[dict]], state: _Restore) -> None:
    """The stored results read back as archived (points, index, rank of every assessment)."""
    result_model = next(part for part in REGISTRY if part.label == "scoring.AssessmentResult").model

    def number(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    archived = {
        state.keys["scoring.Assessment"][r["pk"]]: (
            number(r["fields"]["points"]),
            number(r["fields"]["index"]),
            r["fields"]["rank"],
        )
        for r in records.get("scoring.AssessmentResult", [])
    }
    restored = {
        pk: (number(points), number(index), rank)
        for pk, points, index, rank in result_model.objects.filter(framework=framework).values_list(
            "pk", "points", "index", "rank"
        )
    }
    if restored != archived:
        raise _refused(N_("The archive is inconsistent: %(members)s."), members="scoring.AssessmentResult")
