"""Message classes built at run time from a shipped ``.proto`` file (no protoc on this platform).

The ``.proto`` stays the single source of truth: this reads the proto2 subset that published
schemas like ``export.proto`` use (messages, nested enums, optional/repeated scalar, enum and
message fields, ``default``/``deprecated`` options), builds a ``FileDescriptorProto`` and lets
the protobuf runtime make the classes. Anything outside that subset is an error, not ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _F.TYPE_DOUBLE,
    "float": _F.TYPE_FLOAT,
    "int64": _F.TYPE_INT64,
    "uint64": _F.TYPE_UINT64,
    "int32": _F.TYPE_INT32,
    "fixed64": _F.TYPE_FIXED64,
    "fixed32": _F.TYPE_FIXED32,
    "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "uint32": _F.TYPE_UINT32,
    "sfixed32": _F.TYPE_SFIXED32,
    "sfixed64": _F.TYPE_SFIXED64,
    "sint32": _F.TYPE_SINT32,
    "sint64": _F.TYPE_SINT64,
}
_LABELS = {
    "optional": _F.LABEL_OPTIONAL,
    "repeated": _F.LABEL_REPEATED,
    "required": _F.LABEL_REQUIRED,
}
_TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][\w.]*|-?\d+|[{}=;\[\],]')


class ProtoSchemaError(ValueError):
    """The .proto uses something this reader does not support, or is malformed."""


def _tokens(text: str) -> list[str]:
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return _TOKEN.findall(text)


class _Reader:
    def __init__(self, tokens: list[str]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        if self.i >= len(self.t):
            raise ProtoSchemaError("unexpected end of .proto")
        tok = self.t[self.i]
        if expected is not None and tok != expected:
            raise ProtoSchemaError(f"expected {expected!r}, found {tok!r}")
        self.i += 1
        return tok


def _parse_enum(r: _Reader, enum: descriptor_pb2.EnumDescriptorProto) -> None:
    enum.name = r.take()
    r.take("{")
    while r.peek() != "}":
        value = enum.value.add()
        value.name = r.take()
        r.take("=")
        value.number = int(r.take())
        r.take(";")
    r.take("}")


def _parse_field_options(r: _Reader, field: descriptor_pb2.FieldDescriptorProto) -> None:
    r.take("[")
    while True:
        name = r.take()
        r.take("=")
        value = r.take()
        if name == "default":
            field.default_value = value.strip('"')
        elif name == "deprecated":
            field.options.deprecated = value == "true"
        else:
            raise ProtoSchemaError(f"unsupported field option {name!r}")
        if r.peek() == ",":
            r.take(",")
            continue
        r.take("]")
        return


def _parse_message(r: _Reader, msg: descriptor_pb2.DescriptorProto) -> None:
    msg.name = r.take()
    r.take("{")
    while r.peek() != "}":
        tok = r.take()
        if tok == "enum":
            _parse_enum(r, msg.enum_type.add())
            continue
        if tok == "message":
            _parse_message(r, msg.nested_type.add())
            continue
        if tok not in _LABELS:
            raise ProtoSchemaError(f"field without label or unsupported statement {tok!r}")
        field = msg.field.add()
        field.label = _LABELS[tok]
        type_name = r.take()
        field.name = r.take()
        r.take("=")
        field.number = int(r.take())
        if type_name in _SCALARS:
            field.type = _SCALARS[type_name]
        else:
            field.type_name = type_name  # resolved once all messages and enums are known
        if r.peek() == "[":
            _parse_field_options(r, field)
        r.take(";")
    r.take("}")


def _resolve(fdp: descriptor_pb2.FileDescriptorProto) -> None:
    """Turn relative type names into fully qualified ones and set message/enum types."""
    prefix = f".{fdp.package}" if fdp.package else ""
    enums: set[str] = set()
    messages: set[str] = set()

    def collect(msg: descriptor_pb2.DescriptorProto, scope: str) -> None:
        full = f"{scope}.{msg.name}"
        messages.add(full)
        for e in msg.enum_type:
            enums.add(f"{full}.{e.name}")
        for m in msg.nested_type:
            collect(m, full)

    for m in fdp.message_type:
        collect(m, prefix)
    for e in fdp.enum_type:
        enums.add(f"{prefix}.{e.name}")

    def fix(msg: descriptor_pb2.DescriptorProto, scope: str) -> None:
        full = f"{scope}.{msg.name}"
        for field in msg.field:
            if not field.type_name:
                continue
            # proto scoping: innermost scope first, then outwards to the package
            parts = full.split(".")
            for cut in range(len(parts), 0, -1):
                candidate = ".".join([*parts[:cut], field.type_name])
                if candidate in enums:
                    field.type, field.type_name = _F.TYPE_ENUM, candidate
                    break
                if candidate in messages:
                    field.type, field.type_name = _F.TYPE_MESSAGE, candidate
                    break
            else:
                raise ProtoSchemaError(f"unknown type {field.type_name!r} in {msg.name}")
        for m in msg.nested_type:
            fix(m, full)

    for m in fdp.message_type:
        fix(m, prefix)


def parse_proto(text: str, file_name: str) -> descriptor_pb2.FileDescriptorProto:
    """A FileDescriptorProto from the text of a proto2 schema (the supported subset)."""
    r = _Reader(_tokens(text))
    fdp = descriptor_pb2.FileDescriptorProto(name=file_name)
    while r.peek() is not None:
        tok = r.take()
        if tok == "syntax":
            r.take("=")
            fdp.syntax = r.take().strip('"')
            r.take(";")
        elif tok == "package":
            fdp.package = r.take()
            r.take(";")
        elif tok == "message":
            _parse_message(r, fdp.message_type.add())
        elif tok == "enum":
            _parse_enum(r, fdp.enum_type.add())
        else:
            raise ProtoSchemaError(f"unsupported top-level statement {tok!r}")
    if fdp.syntax != "proto2":
        raise ProtoSchemaError("only proto2 schemas are supported")
    _resolve(fdp)
    return fdp


def load_messages(proto_path: Path) -> dict[str, type[Message]]:
    """Message classes (by short name) of every top-level message in a .proto file."""
    fdp = parse_proto(proto_path.read_text(encoding="utf-8"), proto_path.name)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(fdp.SerializeToString())
    file_desc = pool.FindFileByName(fdp.name)
    return {
        name: message_factory.GetMessageClass(desc)
        for name, desc in file_desc.message_types_by_name.items()
    }
