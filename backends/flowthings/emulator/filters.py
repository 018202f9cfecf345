"""The flowthings filter language, parsed into predicates over flow and drop objects.

The `filter` query parameter (protocols/flowthings.md section 6) is a small expression
language: `member OP value` comparisons (`== != < <= > >=`, a member on the right
compares two members), `member =~ /regex/flags`, `member IN [..]`, `member CONTAINS
[..]`, `member % X == Y`, `EXISTS member`, `HAS type`, `MATCHES /regex/`, `AGE < ms`,
`NOT rule`, `&&`, `||` and parentheses; strings in single or double quotes. Members are
dotted paths into the object (`path`, `elems.temp`). `parse()` returns a function
`object -> bool` or raises `FilterError` (the emulator answers 400). This is the
emulator's own reading of the documented language, not a copy of any client's builder.
"""

import re

_TYPE_OF = {bool: "boolean", int: "integer", float: "float", str: "string", dict: "map",
            list: "list", type(None): "null"}
MISSING = object()
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_MEMBER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$]+)*")
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class FilterError(ValueError):
    """The filter text is not in the language (the service answers 400)."""


def member_value(obj, dotted):
    """The value at a dotted path in *obj*, or `MISSING`."""
    value = obj
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def _compare(op, left, right):
    if left is MISSING or right is MISSING:
        return op == "!=" and not (left is MISSING and right is MISSING)
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        comparable = type(left) is type(right)
    elif isinstance(left, numbers) and isinstance(right, numbers):
        comparable = True
    else:
        comparable = type(left) is type(right)
    if op == "==":
        return comparable and left == right
    if op == "!=":
        return not (comparable and left == right)
    if not comparable or not isinstance(left, (int, float, str)):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


class _Parser:
    def __init__(self, text, now_ms):
        self.text = text
        self.pos = 0
        self.now_ms = now_ms

    def fail(self, what):
        raise FilterError(f"filter {self.text!r}: {what} at offset {self.pos}")

    def skip_space(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token):
        self.skip_space()
        return self.text.startswith(token, self.pos)

    def keyword(self, word):
        """Consume the upper-case keyword *word* when it is next (as a whole word)."""
        self.skip_space()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and not (
                end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_")):
            self.pos = end
            return True
        return False

    def take(self, token):
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token):
        if not self.take(token):
            self.fail(f"expected {token!r}")

    # -- grammar -------------------------------------------------------------------------

    def parse(self):
        rule = self.disjunction()
        self.skip_space()
        if self.pos != len(self.text):
            self.fail("unexpected text")
        return rule

    def disjunction(self):
        rules = [self.conjunction()]
        while self.take("||"):
            rules.append(self.conjunction())
        return rules[0] if len(rules) == 1 else (lambda obj: any(r(obj) for r in rules))

    def conjunction(self):
        rules = [self.unary()]
        while self.take("&&"):
            rules.append(self.unary())
        return rules[0] if len(rules) == 1 else (lambda obj: all(r(obj) for r in rules))

    def unary(self):
        if self.keyword("NOT"):
            rule = self.unary()
            return lambda obj: not rule(obj)
        if self.take("("):
            rule = self.disjunction()
            self.expect(")")
            return rule
        return self.primary()

    def primary(self):
        if self.keyword("EXISTS"):
            name = self.member()
            return lambda obj: member_value(obj, name) is not MISSING
        if self.keyword("HAS"):
            wanted = self.member()
            return lambda obj: any(_TYPE_OF.get(type(v)) == wanted
                                   for v in (obj.get("elems") or {}).values())
        if self.keyword("MATCHES"):
            pattern = self.regex()
            return lambda obj: any(isinstance(v, str) and pattern.search(v)
                                   for v in (obj.get("elems") or {}).values())
        if self.keyword("AGE"):
            field = "creationDate"
            if self.take("("):
                field = self.string()
                self.expect(")")
            op = self.operator()
            limit = self.number()
            now = self.now_ms
            return lambda obj: _compare(op, _age(obj, field, now), limit)
        name = self.member()
        if self.take("=~"):
            pattern = self.regex()
            return lambda obj: isinstance(member_value(obj, name), str) and bool(
                pattern.search(member_value(obj, name)))
        if self.keyword("IN"):
            values = self.array()
            return lambda obj: any(_compare("==", member_value(obj, name), v) for v in values)
        if self.keyword("CONTAINS"):
            values = self.array()

            def contains(obj):
                have = member_value(obj, name)
                return isinstance(have, list) and all(
                    any(_compare("==", h, v) for h in have) for v in values)
            return contains
        if self.take("%"):
            divisor = self.number()
            op = self.operator()
            if op not in ("==", "!="):
                self.fail("a modulo rule compares with == or !=")
            rest = self.number()

            def modulo(obj):
                have = member_value(obj, name)
                if isinstance(have, bool) or not isinstance(have, (int, float)) or not divisor:
                    return False
                return (have % divisor == rest) == (op == "==")
            return modulo
        op = self.operator()
        right = self.operand()
        if isinstance(right, _Member):
            other = right.name
            return lambda obj: _compare(op, member_value(obj, name), member_value(obj, other))
        return lambda obj: _compare(op, member_value(obj, name), right)

    # -- tokens --------------------------------------------------------------------------

    def operator(self):
        for op in _COMPARE:
            if self.take(op):
                return op
        self.fail("expected a comparison operator")

    def member(self):
        self.skip_space()
        match = _MEMBER.match(self.text, self.pos)
        if not match:
            self.fail("expected a member name")
        self.pos = match.end()
        return match.group(0)

    def number(self):
        self.skip_space()
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            self.fail("expected a number")
        self.pos = match.end()
        text = match.group(0)
        return float(text) if any(c in text for c in ".eE") else int(text)

    def string(self):
        self.skip_space()
        quote = self.text[self.pos:self.pos + 1]
        if quote not in ("'", '"'):
            self.fail("expected a quoted string")
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        self.fail("unterminated string")

    def regex(self):
        self.skip_space()
        if not self.take("/"):
            self.fail("expected /regex/")
        out = []
        while self.pos < len(self.text) and self.text[self.pos] != "/":
            if self.text[self.pos] == "\\" and self.text[self.pos + 1:self.pos + 2] == "/":
                out.append("/")
                self.pos += 2
                continue
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos:self.pos + 2])
                self.pos += 2
                continue
            out.append(self.text[self.pos])
            self.pos += 1
        if not self.take("/"):
            self.fail("unterminated regex")
        flags = 0
        while self.pos < len(self.text) and self.text[self.pos] in _FLAGS:
            flags |= _FLAGS[self.text[self.pos]]
            self.pos += 1
        try:
            return re.compile("".join(out), flags)
        except re.error as exc:
            self.fail(f"bad regex ({exc})")

    def array(self):
        self.expect("[")
        values = []
        if self.take("]"):
            return values
        while True:
            values.append(self.literal())
            if self.take("]"):
                return values
            self.expect(",")

    def literal(self):
        value = self.operand()
        if isinstance(value, _Member):
            self.fail("expected a value")
        return value

    def operand(self):
        self.skip_space()
        char = self.text[self.pos:self.pos + 1]
        if char in ("'", '"'):
            return self.string()
        if char == "-" or char.isdigit():
            return self.number()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.keyword(word):
                return value
        return _Member(self.member())


class _Member:
    def __init__(self, name):
        self.name = name


def _age(obj, field, now_ms):
    created = member_value(obj, field)
    if isinstance(created, bool) or not isinstance(created, (int, float)):
        return MISSING
    return now_ms - created


def parse(text, now_ms=0):
    """A predicate for filter *text*; an empty filter matches everything."""
    if text is None or not text.strip():
        return lambda obj: True
    return _Parser(text, now_ms).parse()
