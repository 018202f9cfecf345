"""The SLS protobuf wire schema (`logs.proto`), loaded at run time without protoc.

`logs.proto` beside this module is the one copy of the schema; the hubfs client and the
emulator both use it (DESIGN.md allows sharing wire schemas, never parsing code). It is
read by a parser for the small proto2 subset it uses (messages, nested messages, scalar
and message fields with a label and a number) into a `FileDescriptorProto`, and its
message classes are built in a private `DescriptorPool`: the official SDK registers the
same unqualified names (`Log`, `LogGroup`, ...) in protobuf's default pool, and the two
must live side by side in one test process. Two variants are built: `text`, as written
(string fields are `str`), and `raw`, where every `string` is `bytes`, the schema's
`*Raw` twin the service documents for values that are not UTF-8. The wire bytes of both
are identical.
"""

import os
import re
from types import SimpleNamespace

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTO_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logs.proto")

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "uint32": _F.TYPE_UINT32, "uint64": _F.TYPE_UINT64, "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64, "fixed32": _F.TYPE_FIXED32, "fixed64": _F.TYPE_FIXED64,
    "bool": _F.TYPE_BOOL, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
}
_LABELS = {"required": _F.LABEL_REQUIRED, "optional": _F.LABEL_OPTIONAL,
           "repeated": _F.LABEL_REPEATED}
_TOKEN = re.compile(r'\s*(?:(//[^\n]*)|("[^"]*")|([A-Za-z_][\w.]*)|(\d+)|([{};=]))')


def _tokens(text):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise ValueError(f"{PROTO_PATH}: cannot parse near {text[pos:pos + 30]!r}")
            return
        pos = m.end()
        comment, string, word, number, punct = m.groups()
        if comment is None:
            yield string or word or number or punct


def _parse(text, package, strings_as_bytes):
    """A FileDescriptorProto for the proto2 subset `logs.proto` is written in."""
    toks = list(_tokens(text))
    file = descriptor_pb2.FileDescriptorProto(name=f"hubfs/aliyun_log/{package}.proto",
                                              package=package, syntax="proto2")
    pos = 0

    def take(expected=None):
        nonlocal pos
        tok = toks[pos]
        pos += 1
        if expected is not None and tok != expected:
            raise ValueError(f"{PROTO_PATH}: expected {expected!r}, found {tok!r}")
        return tok

    def message(container, scope):
        name = take()
        msg = container.add(name=name)
        take("{")
        fields = []
        while toks[pos] != "}":
            if toks[pos] == "message":
                take()
                message(msg.nested_type, f"{scope}.{name}")
                continue
            label, type_name, field_name = take(), take(), take()
            take("=")
            number = int(take())
            take(";")
            fields.append((label, type_name, field_name, number))
        take("}")
        nested = {n.name for n in msg.nested_type}
        for label, type_name, field_name, number in fields:
            field = msg.field.add(name=field_name, number=number, label=_LABELS[label])
            if type_name in _SCALARS:
                if type_name == "string" and strings_as_bytes:
                    type_name = "bytes"
                field.type = _SCALARS[type_name]
            else:
                field.type = _F.TYPE_MESSAGE
                owner = f"{scope}.{name}" if type_name in nested else scope
                field.type_name = f"{owner}.{type_name}"

    while pos < len(toks):
        tok = take()
        if tok == "syntax":
            take("=")
            take()
            take(";")
        elif tok == "message":
            message(file.message_type, f".{package}")
        else:
            raise ValueError(f"{PROTO_PATH}: unexpected {tok!r}")
    return file


def _load(package, strings_as_bytes):
    with open(PROTO_PATH, encoding="utf-8") as fh:
        file = _parse(fh.read(), package, strings_as_bytes)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    classes = {}
    for msg in file.message_type:
        classes[msg.name] = message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{package}.{msg.name}"))
    return SimpleNamespace(**classes)


# `text.LogGroup` etc.: string fields are str (what PutLogs builds from JSON lines).
text = _load("hubfs_sls", strings_as_bytes=False)
# `raw.LogGroupList` etc.: string fields are bytes (what decoding a pull starts from).
raw = _load("hubfs_sls_raw", strings_as_bytes=True)
