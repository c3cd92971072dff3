# SPDX-License-Identifier: GPL-2.0
"""The YAML descriptions (test-matrix.yaml, bench.yaml): load them and
check every key against one table, so that a typo ('apend:') is an
error of one line naming the file, the line, the row and the key,
instead of a setting silently ignored.

A schema is a dict {key: type}.  A type is
  str, int, bool, float   a scalar of that type (int accepts no bool)
  (str, int)              any of these
  [str]                   a list of str (or of any type given)
  list                    a list of anything
  {...}                   a mapping with exactly these keys (a schema)
  Named({...})            a mapping from free names to schemas
  Rows({...})             a list of schemas, each with a unique 'name'
  OneOf((a, b))           a string, one of these
and req(type) marks a key that must be present.

To allow a new key, add one line to the table below, e.g. in ROW:
    "forbid": [str],
"""

import os

from .common import TOP, Error
from .lines import NAMES as LINE_NAMES


class req:
    """A key that must be present."""

    def __init__(self, type_):
        self.type = type_


class Named:
    """A mapping from names of the user's choosing to @schema."""

    def __init__(self, schema):
        self.schema = schema


class OneOf:
    """A string, one of @values."""

    def __init__(self, values):
        self.values = tuple(values)


class Rows:
    """A list of @schema mappings, each named by a unique 'name'."""

    def __init__(self, schema):
        self.schema = dict(schema, name=req(str))


# --- test-matrix.yaml ----------------------------------------------------

MATRIX_DEFAULTS = {
    "memory": (str, int),
    "timeout": int,
    "timeout_retries": int,
    "append": str,
    "guest": str,
}

KERNEL = {
    "arch": req(str),
    "fragments": req([str]),
    "image": req(str),
    "cross": str,
    "guest_cc": str,
    "guest_cflags": str,
    "require": [str],
    "needs": str,
    # KUnit suites built in (suite: Kconfig symbol): where the final
    # .config has the symbol, every boot must report the suite ok
    "kunit": Named(str),
}

# what a row's 'dynamic:' may override when the kernel has the feature
ROW_DYNAMIC = {
    "append": str,
    "guest": str,
    "qemu": str,
    "memory": (str, int),
    "timeout": int,
    "forbid": [str],
}

ROW = {
    "kernel": req(str),
    "boot": bool,
    "qemu": str,
    "console": str,
    "mode": str,
    "append": str,
    "guest": str,
    "memory": (str, int),
    "timeout": int,
    "timeout_retries": int,
    "dynamic": ROW_DYNAMIC,
    "forbid": [str],            # console regexes that fail the row
    "ci": bool,                 # false: only ./patchtree matrix runs it
    "line": OneOf(LINE_NAMES),  # the series line it boots (v6.1.y)
}

SWEEP = {
    "arch": req(str),
    "cross": str,
    "fragments": [str],
    "config": [str],
    "ci": bool,
    "needs": str,
    "line": OneOf(LINE_NAMES),
}

MATRIX = {
    "defaults": req(MATRIX_DEFAULTS),
    "kernels": req(Named(KERNEL)),
    "rows": req(Rows(ROW)),
    "sweep": Rows(SWEEP),
}

# --- bench.yaml ----------------------------------------------------------

BENCH_KERNEL = {
    "base": req(str),
    "plain": bool,
    "fragments": [str],
    "line": OneOf(LINE_NAMES),  # whose series goes on the base (v6.1.y)
}

BENCH_ROW = {
    "kernel": req(str),
    "append": req(str),
    "guest": str,
    "module": str,              # the module it loads instead of 'module'
}

BENCH_CLOCK = {
    "qemu": req(str),
    "guest": str,
}

BENCH = {
    "kernels": req(Named(BENCH_KERNEL)),
    "build": req(KERNEL),
    "rows": req(Rows(BENCH_ROW)),
    "clocks": req(Named(BENCH_CLOCK)),
    "guest": req(str),
    "reps": req(int),
    "module": str,
    "timeout": int,
    "plot": [str],
}


# --- loading -------------------------------------------------------------

class Node(dict):
    """A YAML mapping that remembers the line of each of its keys."""
    line = 0
    lines = {}


def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node):
        loader.flatten_mapping(node)
        m = Node()
        m.line = node.start_mark.line + 1
        m.lines = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if key in m:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", knode.start_mark)
            m[key] = loader.construct_object(vnode, deep=True)
            m.lines[key] = knode.start_mark.line + 1
        return m
    Loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def load(path, schema):
    """Read the YAML file @path and check it against @schema; return its
    mappings (dicts).  Every problem is an Error of one line."""
    try:
        import yaml
    except ImportError:
        raise Error("python3-yaml is missing: apt-get install python3-yaml "
                    "(and run the tool with Debian's /usr/bin/python3)")
    name = display(path)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise Error(f"{name}: {e.strerror}")
    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise Error(f"{where}: {e.problem or e.context or 'bad YAML'}")
    except yaml.YAMLError as e:
        raise Error(f"{name}: {' '.join(str(e).split())}")
    if data is None:
        raise Error(f"{name}: empty (want a mapping with "
                    + ", ".join(_required(schema)) + ")")
    check(data, schema, name)
    return data


def display(path):
    """@path as messages name it: relative to the tree when inside it."""
    name = os.path.relpath(path, TOP)
    return path if name.startswith("..") else name


def where(path, node, key=None):
    """'file:line' of @node (a loaded mapping), or of its @key."""
    return display(path) + _line(node, key)


def _required(schema):
    return [k for k, t in schema.items() if isinstance(t, req)]


def _type_name(t):
    if isinstance(t, req):
        return _type_name(t.type)
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    if isinstance(t, list):
        return f"a list of {_type_name(t[0])}" if t else "a list"
    if t is list:
        return "a list"
    if isinstance(t, (dict, Named)):
        return "a mapping"
    if isinstance(t, Rows):
        return "a list of mappings"
    if isinstance(t, OneOf):
        return "one of " + ", ".join(t.values)
    return {str: "a string", int: "an integer", bool: "true or false",
            float: "a number"}.get(t, t.__name__)


def _is(value, t):
    """Is @value of scalar type @t?"""
    if isinstance(t, tuple):
        return any(_is(value, x) for x in t)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float)) and \
            not isinstance(value, bool)
    return isinstance(value, t)


def _line(parent, key):
    n = getattr(parent, "lines", {}).get(key) or getattr(parent, "line", 0)
    return f":{n}" if n else ""


def check(value, t, file, where="", parent=None, key=None):
    """Check @value against type @t; @where names it for the message
    ('row x86_64: append')."""
    if isinstance(t, req):
        t = t.type

    def fail(what, line=None):
        line = line or (_line(parent, key) if parent is not None else "")
        raise Error(f"{file}{line}: {where + ': ' if where else ''}{what}")

    if isinstance(t, dict):
        if not isinstance(value, dict):
            fail(f"want {_type_name(t)}, got {type(value).__name__}")
        for k in value:
            if k not in t:
                loc = f"{file}{_line(value, k)}"
                raise Error(f"{loc}: {where + ': ' if where else ''}"
                            f"unknown key '{k}' (known: "
                            f"{', '.join(sorted(t))})")
        for k in _required(t):
            if k not in value:
                own = getattr(value, "line", 0)
                fail(f"lacks '{k}'" if where else f"no '{k}' section",
                     f":{own}" if own and where else None)
        for k, v in value.items():
            check(v, t[k], file, f"{where}: {k}" if where else k, value, k)
    elif isinstance(t, Named):
        if not isinstance(value, dict):
            fail("want a mapping of names to mappings")
        for k, v in value.items():
            check(v, t.schema, file,
                  f"{where.rstrip('s')} {k}" if where else str(k), value, k)
    elif isinstance(t, Rows):
        if not isinstance(value, list):
            fail("want a list of mappings, each with a 'name'")
        seen = {}
        for i, r in enumerate(value, 1):
            label = f"{where.rstrip('s')} {i}"
            if isinstance(r, dict) and isinstance(r.get("name"), str):
                label = f"{where.rstrip('s')} {r['name']}"
                if r["name"] in seen:
                    raise Error(f"{file}{_line(r, 'name')}: {label}: "
                                f"duplicate name (also at line "
                                f"{seen[r['name']]})")
                seen[r["name"]] = getattr(r, "line", 0)
            elif isinstance(r, dict):
                raise Error(f"{file}:{getattr(r, 'line', 0)}: {label}: "
                            f"no 'name' (a string)")
            check(r, t.schema, file, label, value, None)
    elif isinstance(t, list) or t is list:
        if not isinstance(value, list):
            fail(f"want {_type_name(t)}, got {_got(value)}")
        if t and t is not list:
            for v in value:
                if not _is(v, t[0]):
                    fail(f"want {_type_name(t)}, got an item {_got(v)}")
    elif isinstance(t, OneOf):
        if value not in t.values:
            fail(f"want {_type_name(t)}, got {_got(value)}")
    elif not _is(value, t):
        fail(f"want {_type_name(t)}, got {_got(value)}")


def _got(v):
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing"
    return repr(v)
