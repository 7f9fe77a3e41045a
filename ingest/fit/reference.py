"""The reference FIT decoder: fitparse, into the decoder-independent :class:`RawSegment`.

fitparse (1.2.0) is the reference wherever it can decode a file. Two of its behaviours
are replaced here, in one small subclass of its ``FitFile`` (:class:`ReferenceFitFile`),
and nowhere else:

- a field whose declared size is not a multiple of its base type's size makes fitparse
  reject the whole file ("Invalid field size 1 for type 'uint32'"; COROS PACE 2/3 event
  messages). The FIT protocol and the FIT SDK (garmin_fit_sdk/decoder.py) decode such a
  field as bytes and go on; so does the subclass: the field becomes an unknown byte
  field (its value is not a number, so no builder reads it), the message and the file
  stay good;
- fitparse keeps developer field descriptions in a module-global dict
  (``fitparse.records.DEV_TYPES``), so two decodes at once could see each other's
  fields. The subclass keeps them per decode (a dict shared by the chained FIT files of
  one input only), so no lock and no global state.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np

from ingest.errors import CorruptFileError, IngestError
from ingest.fit.common import BUDGET_CHECK_EVERY, Budget, exc_line
from ingest.fit.fields import (
    FIT_EPOCH_S,
    RECORD_SOURCE_FIELDS,
    SEMICIRCLE_DEG,
    DevColumn,
    DevDescription,
    RawSegment,
    enum_name,
    misaligned_note,
)

#: Developer types of one input: developer_data_index -> field number -> fitparse DevField.
DevTypes = dict[int, dict[int, Any]]


def _reference_fitfile_class() -> type:
    """fitparse's FitFile with the two changes described in the module docstring.

    Built on first use so that importing :mod:`ingest.fit` does not import fitparse.
    The two methods are fitparse 1.2.0's own, changed only where marked CHANGED.
    """
    import fitparse
    from fitparse.profile import MESSAGE_TYPES
    from fitparse.records import (
        BASE_TYPE_BYTE,
        BASE_TYPES,
        DefinitionMessage,
        DevField,
        DevFieldDefinition,
        FieldDefinition,
    )
    from fitparse.utils import FitParseError

    class ReferenceFitFile(fitparse.FitFile):  # type: ignore[misc]
        def __init__(self, fileish: Any, *, dev_types: DevTypes, **kwargs: Any) -> None:
            self._gw_dev_types = dev_types  # set before fitparse reads the header
            #: (global message number, field number, size, base type name) decoded as bytes
            self.misaligned: list[tuple[int, int, int, str]] = []
            super().__init__(fileish, **kwargs)

        def _parse_message(self) -> Any:
            if self._bytes_left <= 0:
                if not self._complete:  # type: ignore[has-type]
                    self._read_and_assert_crc()
                if self._file.tell() >= self._filesize:
                    self._complete = True
                    self.close()
                    return None
                self._parse_file_header()
                return self._parse_message()
            header = self._parse_message_header()
            if header.is_definition:
                message = self._parse_definition_message(header)
            else:
                message = self._parse_data_message(header)
                if message.mesg_type is not None:
                    # CHANGED: developer types kept per decode, not in fitparse's global
                    if message.mesg_type.name == "developer_data_id":
                        self._gw_add_dev_data_id(message)
                    elif message.mesg_type.name == "field_description":
                        self._gw_add_dev_field_description(message)
            self._messages.append(message)
            return message

        def _gw_add_dev_data_id(self, message: Any) -> None:
            index = message.get_raw_value("developer_data_index")
            self._gw_dev_types[index] = {}

        def _gw_add_dev_field_description(self, message: Any) -> None:
            index = message.get_raw_value("developer_data_index")
            num = message.get_raw_value("field_definition_number")
            base_type_id = message.get_raw_value("fit_base_type_id")
            name = message.get_raw_value("field_name") or f"unnamed_dev_field_{num}"
            if index not in self._gw_dev_types:
                raise FitParseError(f"No such dev_data_index={index} found")
            self._gw_dev_types[int(index)][num] = DevField(
                dev_data_index=index,
                def_num=num,
                type=BASE_TYPES[base_type_id],
                name=name,
                units=message.get_raw_value("units"),
                native_field_num=message.get_raw_value("native_field_num"),
            )

        def _gw_get_dev_type(self, index: int, num: int) -> Any:
            if index not in self._gw_dev_types:
                raise FitParseError(f"No such dev_data_index={index} found when looking up field {num}")
            if num not in self._gw_dev_types[index]:
                raise FitParseError(f"No such field {num} for dev_data_index {index}")
            return self._gw_dev_types[index][num]

        def _parse_definition_message(self, header: Any) -> Any:
            endian = ">" if self._read_struct("xB") else "<"
            global_mesg_num, num_fields = self._read_struct("HB", endian=endian)
            mesg_type = MESSAGE_TYPES.get(global_mesg_num)
            field_defs = []
            for _ in range(num_fields):
                field_def_num, field_size, base_type_num = self._read_struct("3B", endian=endian)
                field = mesg_type.fields.get(field_def_num) if mesg_type else None
                base_type = BASE_TYPES.get(base_type_num, BASE_TYPE_BYTE)
                if field_size % base_type.size != 0:
                    # CHANGED: fitparse raises; the FIT SDK decodes the field as bytes
                    # and goes on. Without its profile field, nobody scales or names it.
                    self.misaligned.append((global_mesg_num, field_def_num, field_size, base_type.name))
                    field, base_type = None, BASE_TYPE_BYTE
                if field and field.components:
                    for component in field.components:
                        if component.accumulate:
                            accumulators = self._accumulators.setdefault(global_mesg_num, {})
                            accumulators[component.def_num] = 0
                field_defs.append(
                    FieldDefinition(field=field, def_num=field_def_num, base_type=base_type, size=field_size)
                )
            dev_field_defs = []
            if header.is_developer_data:
                num_dev_fields = self._read_struct("B", endian=endian)
                for _ in range(num_dev_fields):
                    field_def_num, field_size, dev_data_index = self._read_struct("3B", endian=endian)
                    field = self._gw_get_dev_type(dev_data_index, field_def_num)  # CHANGED: per decode
                    dev_field_defs.append(
                        DevFieldDefinition(
                            field=field, dev_data_index=dev_data_index, def_num=field_def_num, size=field_size
                        )
                    )
            def_mesg = DefinitionMessage(
                header=header,
                endian=endian,
                mesg_type=mesg_type,
                mesg_num=global_mesg_num,
                field_defs=field_defs,
                dev_field_defs=dev_field_defs,
            )
            self._local_mesgs[header.local_mesg_num] = def_mesg
            return def_mesg

    return ReferenceFitFile


_FITFILE_CLASS: type | None = None


def reference_fitfile(stream: io.BytesIO, dev_types: DevTypes) -> Any:
    """A fitparse FitFile over ``stream`` with this module's two changes (CRC checked)."""
    global _FITFILE_CLASS
    if _FITFILE_CLASS is None:
        _FITFILE_CLASS = _reference_fitfile_class()
    return _FITFILE_CLASS(stream, dev_types=dev_types, check_crc=True)


def decode_all(
    source_file: str,
    data: bytes,
    segments: list[tuple[int, int]],
    budget: Budget,
    truncation: CorruptFileError | None,
) -> list[RawSegment]:
    """Decode each FIT file of ``data`` (byte ranges from :func:`split_segments`) with
    fitparse; every fitparse failure becomes a :class:`CorruptFileError` in words."""
    from fitparse.utils import FitCRCError, FitEOFError, FitHeaderError, FitParseError

    out: list[RawSegment] = []
    dev_types: DevTypes = {}  # chained files may use the first one's developer fields
    for start, end in segments:
        stream = io.BytesIO(data[start:end])
        try:
            out.append(decode_segment(stream, budget, dev_types))
        except (IngestError, MemoryError):
            raise
        except FitCRCError as exc:
            raise CorruptFileError(
                source_file, f"FIT checksum mismatch, the file is damaged ({exc})", start + _tell(stream)
            ) from None
        except FitEOFError:
            if truncation is not None:
                raise truncation from None
            raise CorruptFileError(
                source_file, "FIT file truncated: data ends inside a message", start + _tell(stream)
            ) from None
        except FitHeaderError as exc:
            raise CorruptFileError(source_file, f"bad FIT header: {exc}", start) from None
        except FitParseError as exc:
            raise CorruptFileError(
                source_file, f"malformed FIT message: {exc_line(exc)}", start + _tell(stream)
            ) from None
        except (KeyError, IndexError, struct.error, ValueError, TypeError, OverflowError) as exc:
            # fitparse looks values up in its profile tables and unpacks bytes without
            # checking first: on damaged data these are its ways of saying "malformed"
            raise CorruptFileError(
                source_file,
                f"malformed FIT data that fitparse cannot decode ({type(exc).__name__}: {exc_line(exc)})",
                start + _tell(stream),
            ) from None
    return out


_WANTED_RECORD = frozenset(RECORD_SOURCE_FIELDS)
_TIME_TYPES = frozenset({"date_time", "local_date_time"})


def decode_segment(stream: io.BytesIO, budget: Budget, dev_types: DevTypes) -> RawSegment:
    """One FIT file (one header) with fitparse, into the decoder-independent form."""
    from fitparse.records import DevFieldDefinition

    ff = reference_fitfile(stream, dev_types)
    raw = RawSegment()
    rows: list[dict[str, float]] = []
    dev_values: dict[tuple[int, int], dict[int, float]] = {}
    dev_meta: dict[tuple[int, int], tuple[str, str | None, int | None]] = {}
    dev_sources: dict[int, str] = {}
    n_msgs = 0
    for msg in ff.get_messages():
        n_msgs += 1
        if n_msgs % BUDGET_CHECK_EVERY == 0:
            budget.add(0, BUDGET_CHECK_EVERY)
            budget.check_time()
        name = msg.name
        if name == "record":
            budget.add(1, 0)
            row: dict[str, float] = {}
            for fd in msg.fields:
                fdef = fd.field_def
                if isinstance(fdef, DevFieldDefinition):
                    value = fd.value
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        key = (fdef.dev_data_index, fdef.def_num)
                        dev_values.setdefault(key, {})[len(rows)] = float(value)
                        if key not in dev_meta:
                            dev_meta[key] = (
                                str(fd.field.name),
                                fd.field.units,
                                fd.field.native_field_num,
                            )
                    continue
                fname = fd.name
                if fname not in _WANTED_RECORD:
                    continue
                if fname == "timestamp":
                    value = fd.raw_value
                    value = None if value is None else value + FIT_EPOCH_S
                elif fname in ("position_lat", "position_long"):
                    value = fd.raw_value
                    value = None if value is None else value * SEMICIRCLE_DEG
                else:
                    value = fd.value
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                # a field the device wrote beats the same field expanded from a component
                if fdef is None and fname in row:
                    continue
                row[fname] = float(value)
            rows.append(row)
        elif name in ("session", "lap"):
            summary = _summary_from_fitparse(msg, raw, dev_sources, DevFieldDefinition)
            (raw.sessions if name == "session" else raw.laps).append(summary)
        elif name == "file_id" and raw.file_id is None:
            raw.file_id = _file_id_from_fitparse(msg)
        elif name == "activity" and raw.activity is None:
            raw.activity = {
                fd.name: fd.raw_value + FIT_EPOCH_S
                for fd in msg.fields
                if fd.name in ("timestamp", "local_timestamp") and isinstance(fd.raw_value, int)
            }
        elif name == "field_description":
            index = msg.get_raw_value("developer_data_index")
            number = msg.get_raw_value("field_definition_number")
            fname = msg.get_raw_value("field_name")
            if index is not None and isinstance(fname, str):
                raw.dev_descriptions.append(
                    DevDescription(
                        source=dev_sources.get(int(index), f"dev{index}"),
                        name=fname,
                        units=msg.get_raw_value("units"),
                        native_mesg_num=msg.get_raw_value("native_mesg_num"),
                        native_field_num=msg.get_raw_value("native_field_num"),
                        key=(int(index), int(number)) if isinstance(number, int) else None,
                    )
                )
        elif name == "developer_data_id":
            index = msg.get_raw_value("developer_data_index")
            maker = msg.get_raw_value("manufacturer_id")
            if index is not None:
                dev_sources[int(index)] = (
                    enum_name("manufacturer", maker) if maker is not None else f"dev{index}"
                ) or f"dev{index}"
    budget.add(0, n_msgs % BUDGET_CHECK_EVERY)
    if ff.misaligned:
        raw.notes.append(misaligned_note(ff.misaligned))
    raw.n_records = len(rows)
    raw.records = _rows_to_columns(rows)
    names = distinct_dev_names({key: meta[0] for key, meta in dev_meta.items()})
    for key, values in dev_values.items():
        col = np.full(len(rows), np.nan)
        col[np.fromiter(values.keys(), dtype=np.int64)] = np.fromiter(values.values(), dtype=np.float64)
        _, units, native = dev_meta[key]
        fname = names[key]
        raw.dev_records.append(
            DevColumn(
                source=dev_sources.get(key[0], f"dev{key[0]}"),
                name=fname,
                units=units,
                native_field_num=native,
                values=col,
            )
        )
    return raw


def distinct_dev_names(names: dict[tuple[int, int], str]) -> dict[tuple[int, int], str]:
    """One column name per developer field: two different fields (developer index, field
    number) with the same name both survive; in key order, the second is "<name> #2"."""
    out: dict[tuple[int, int], str] = {}
    seen: dict[str, int] = {}
    for key in sorted(names):
        name = names[key]
        seen[name] = seen.get(name, 0) + 1
        out[key] = name if seen[name] == 1 else f"{name} #{seen[name]}"
    return out


def _rows_to_columns(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    present = {k for row in rows for k in row}
    return {
        name: np.array([row.get(name, np.nan) for row in rows], dtype=np.float64)
        for name in RECORD_SOURCE_FIELDS
        if name in present
    }


def _summary_from_fitparse(
    msg: Any, raw: RawSegment, dev_sources: dict[int, str], dev_def_type: type
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    devs: list[tuple[str, str, float, str | None]] = []
    for fd in msg.fields:
        if isinstance(fd.field_def, dev_def_type):
            if isinstance(fd.value, (int, float)) and not isinstance(fd.value, bool):
                index = int(getattr(fd.field_def, "dev_data_index", 0))
                src = dev_sources.get(index, f"dev{index}")
                devs.append((src, str(fd.field.name), float(fd.value), fd.field.units))
            continue
        if fd.field is None:  # not in fitparse's profile
            continue
        if fd.type is not None and getattr(fd.type, "name", None) in _TIME_TYPES:
            # device-relative times (< FIT_MIN_WALL_TIME) are placed by the builder
            if isinstance(fd.raw_value, int):
                out[fd.name] = fd.raw_value + FIT_EPOCH_S
            continue
        value = fd.value
        if fd.name in ("sport", "sub_sport"):
            out[fd.name] = enum_name(fd.name, value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[fd.name] = value
    ts = out.get("timestamp", out.get("start_time"))
    if devs and ts is not None:
        kind = msg.name
        raw.dev_summary.extend((float(ts), src, f"{kind}:{n}", v, u) for src, n, v, u in devs)
    return out


def _file_id_from_fitparse(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fd in msg.fields:
        name = fd.name
        if name == "type":
            out["type"] = enum_name("file", fd.raw_value)
        elif name == "manufacturer":
            out["manufacturer"] = enum_name("manufacturer", fd.raw_value)
        elif name in ("product", "garmin_product", "favero_product"):
            out["product"] = fd.raw_value
        elif name == "product_name" and isinstance(fd.value, str):
            out["product_name"] = fd.value
        elif name == "serial_number" and isinstance(fd.raw_value, int):
            out["serial_number"] = fd.raw_value
        elif name == "time_created" and isinstance(fd.raw_value, int):
            out["time_created"] = fd.raw_value + FIT_EPOCH_S
    return out



def _tell(stream: io.BytesIO) -> int:
    try:
        return stream.tell()
    except ValueError:  # closed by fitparse at the end of the data
        return len(stream.getbuffer()) if not stream.closed else 0
