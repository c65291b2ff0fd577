"""Generate the blocking facade, polar_sdk/_sync/, from the async source.

    python -m codegen.sync_facade             # rewrite polar_sdk/_sync/
    python -m codegen.sync_facade --check     # exit 1 when the files on disk are stale
    python -m codegen.sync_facade --out DIR   # write the files somewhere else

The async code is the only hand-written implementation. This script reads it with `ast`
(nothing is imported, so it runs without the package's dependencies) and writes:

- one module per `polar_sdk/resources/<name>.py`, with a class per public `Async<Name>`
  class: every public method keeps its decorators (`@overload`), parameters, defaults,
  return annotation and docstring, minus `async`, and forwards its arguments to the async
  method through `PortalCore.call` (or `PortalCore.iterate` for async generators);
- `_client.py` with `Polar`, whose constructor copies `AsyncPolar.__init__`'s parameters,
  builds an `AsyncPolar` from them, and exposes the same resource attributes and
  properties;
- `__init__.py` re-exporting the lot.

Output is deterministic and already in ruff's format: signatures and forwarding calls are
always written one argument per line with a trailing comma, which ruff keeps as it is, and
the source text of annotations, defaults and docstrings is copied unchanged from files that
ruff already formats. Imports are pruned to the names the generated code uses and sorted
the way ruff's isort rules expect.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = "codegen/sync_facade.py"
PACKAGE = "polar_sdk"
SYNC_PACKAGE = "polar_sdk._sync"
LINE_LENGTH = 100

_ASYNC_ITERATOR_NAMES = {"AsyncIterator", "AsyncGenerator", "AsyncIterable"}


class GenerationError(Exception):
    """The async source uses a construct the generator does not know how to mirror."""


# --------------------------------------------------------------------------------------
# reading the async source
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedName:
    """A name bound by an import: `from <module> import <name> as <alias>` or `import <name>`."""

    module: str | None  # absolute module for `from` imports, None for `import x`
    name: str


@dataclass
class Source:
    """One parsed module of the async package."""

    path: Path
    module: str  # dotted name, e.g. polar_sdk.resources.customer_sessions
    text: str
    tree: ast.Module
    imports: dict[str, ImportedName] = field(default_factory=dict)  # bound name -> origin

    @classmethod
    def read(cls, package_dir: Path, relative: str) -> Source:
        path = package_dir / relative
        text = path.read_text(encoding="utf-8")
        module = PACKAGE + "." + relative.removesuffix(".py").replace("/", ".")
        module = module.removesuffix(".__init__")
        source = cls(path, module, text, ast.parse(text))
        source._collect_imports()
        return source

    @property
    def package(self) -> str:
        return self.module.rpartition(".")[0]

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.text, node)
        if text is None:  # pragma: no cover - every node we copy has positions
            raise GenerationError(f"{self.path}: no source for {ast.dump(node)}")
        if "\n" in text and not isinstance(node, ast.Constant):
            raise GenerationError(
                f"{self.path}:{getattr(node, 'lineno', '?')}: multi-line expression "
                f"{text!r} cannot be copied; give it a name (a type alias) instead"
            )
        return text

    def _collect_imports(self) -> None:
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.partition(".")[0]
                    self.imports[bound] = ImportedName(None, alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    continue
                absolute = self._absolute(node.module, node.level)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = ImportedName(absolute, alias.name)

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            assert module is not None
            return module
        parts = self.package.split(".")
        if level > 1:
            parts = parts[: -(level - 1)]
        base = ".".join(parts)
        return f"{base}.{module}" if module else base


def _top_level_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if n != "__all__"]


def _docstring_node(body: Sequence[ast.stmt]) -> ast.Expr | None:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def _decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = []
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Attribute):
            names.append(target.attr)
    return names


def _is_async_generator(fn: ast.AsyncFunctionDef) -> bool:
    def walk(nodes: Iterable[ast.AST]) -> bool:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue  # a nested function's yield is not ours
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                return True
            if walk(ast.iter_child_nodes(node)):
                return True
        return False

    return walk(fn.body)


@dataclass
class Method:
    """A public method of an async class and how its mirror forwards calls."""

    name: str
    kind: str  # "call": await a coroutine; "iterate": step an async iterator
    overloads: list[ast.AsyncFunctionDef | ast.FunctionDef]
    impl: ast.AsyncFunctionDef | ast.FunctionDef


@dataclass
class Prop:
    """A public read-only property, forwarded to the async object."""

    name: str
    node: ast.FunctionDef


@dataclass
class AsyncClass:
    """A public `Async*` class of a resource module."""

    source: Source
    node: ast.ClassDef
    methods: list[Method]
    props: list[Prop]

    @property
    def async_name(self) -> str:
        return self.node.name

    @property
    def sync_name(self) -> str:
        return self.node.name.removeprefix("Async")


def _classify_method(
    owner: str, name: str, overloads: list[ast.AsyncFunctionDef | ast.FunctionDef], impl: ast.AST
) -> Method:
    if isinstance(impl, ast.AsyncFunctionDef):
        if _is_async_generator(impl):
            return Method(name, "iterate", overloads, impl)
        if _returns_async_iterator(impl):
            raise GenerationError(
                f"{owner}.{name}: an `async def` that returns an async iterator has no "
                "mirror yet; make it an async generator, or teach codegen/sync_facade.py"
            )
        return Method(name, "call", overloads, impl)
    assert isinstance(impl, ast.FunctionDef)
    if _returns_async_iterator(impl):
        return Method(name, "iterate", overloads, impl)
    raise GenerationError(
        f"{owner}.{name}: a public synchronous method has no obvious blocking mirror; "
        "make it private, async, or teach codegen/sync_facade.py about it"
    )


def _returns_async_iterator(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    returns = fn.returns
    target = returns.value if isinstance(returns, ast.Subscript) else returns
    return isinstance(target, ast.Name) and target.id in _ASYNC_ITERATOR_NAMES


def _read_class(source: Source, node: ast.ClassDef, *, skip: set[str]) -> AsyncClass:
    overloads: dict[str, list[ast.AsyncFunctionDef | ast.FunctionDef]] = {}
    impls: dict[str, ast.AsyncFunctionDef | ast.FunctionDef] = {}
    props: list[Prop] = []
    order: list[str] = []
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = item.name
            if name.startswith("_") or name in skip:
                continue
            decorators = _decorator_names(item)
            if "property" in decorators:
                if not isinstance(item, ast.FunctionDef):
                    raise GenerationError(f"{node.name}.{name}: async property")
                props.append(Prop(name, item))
                continue
            if name not in order:
                order.append(name)
            if "overload" in decorators:
                overloads.setdefault(name, []).append(item)
            else:
                impls[name] = item
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Name) and not target.id.startswith("_"):
                    if target.id in skip:
                        continue
                    raise GenerationError(
                        f"{node.name}.{target.id}: public class attributes are not mirrored"
                    )
    methods = []
    for name in order:
        if name not in impls:
            raise GenerationError(f"{node.name}.{name}: overloads without an implementation")
        methods.append(_classify_method(node.name, name, overloads.get(name, []), impls[name]))
    return AsyncClass(source, node, methods, props)


def _module_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ):
            return [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
    return None


def read_resources(package_dir: Path) -> list[AsyncClass]:
    """Every public `Async*` class of polar_sdk/resources/*.py, in file and source order."""
    classes = []
    for path in sorted((package_dir / "resources").glob("*.py")):
        if path.name.startswith("_"):
            continue
        if path.read_text(encoding="utf-8").startswith("# generated by"):
            continue  # generated from the spec together with its blocking twin
        source = Source.read(package_dir, f"resources/{path.name}")
        public = _module_all(source.tree)
        for node in source.tree.body:
            if (
                isinstance(node, ast.ClassDef)
                and node.name.startswith("Async")
                and (public is None or node.name in public)
            ):
                classes.append(_read_class(source, node, skip=set()))
    return classes


# --------------------------------------------------------------------------------------
# writing code
# --------------------------------------------------------------------------------------


class Imports:
    """The imports a generated module may use, pruned and sorted at the end."""

    def __init__(self, target_package: str) -> None:
        self._target = target_package
        self._candidates: dict[str, ImportedName] = {}

    def offer(self, bound: str, origin: ImportedName) -> None:
        self._candidates.setdefault(bound, origin)

    def offer_from(self, source: Source) -> None:
        """Offer the source module's imports and its own top-level names (e.g. defaults)."""
        for bound, origin in source.imports.items():
            self.offer(bound, origin)
        for name in _top_level_names(source.tree):
            self.offer(name, ImportedName(source.module, name))

    def render(self, used: set[str]) -> str:
        stdlib: list[str] = []
        third: list[str] = []
        local: list[tuple[tuple[int, str], str]] = []
        from_groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for bound, origin in self._candidates.items():
            if bound not in used:
                continue
            if origin.module is None:
                line = f"import {origin.name}" + (
                    f" as {bound}" if bound != origin.name.partition(".")[0] else ""
                )
                section = self._section(origin.name)
                (stdlib if section == "stdlib" else third).append(line)
                continue
            section = self._section(origin.module)
            module = self._relative(origin.module) if section == "local" else origin.module
            from_groups.setdefault((section, module), []).append((origin.name, bound))
        straight = {"stdlib": sorted(stdlib, key=str.lower), "third": sorted(third, key=str.lower)}
        froms: dict[str, list[tuple[tuple[int, str], str]]] = {"stdlib": [], "third": []}
        for (section, module), names in from_groups.items():
            rendered = _render_from(module, names)
            if section == "local":
                dots = len(module) - len(module.lstrip("."))
                local.append(((-dots, module.lstrip(".").lower()), rendered))
            else:
                froms[section].append(((0, module.lower()), rendered))
        blocks = ["from __future__ import annotations"]
        for section in ("stdlib", "third"):
            lines = straight[section] + [r for _, r in sorted(froms[section])]
            if lines:
                blocks.append("\n".join(lines))
        if local:
            blocks.append("\n".join(r for _, r in sorted(local)))
        return "\n\n".join(blocks) + "\n"

    def _section(self, module: str) -> str:
        root = module.partition(".")[0]
        if root == PACKAGE:
            return "local"
        if root in sys.stdlib_module_names:
            return "stdlib"
        return "third"

    def _relative(self, module: str) -> str:
        target = self._target.split(".")
        parts = module.split(".")
        common = 0
        while common < min(len(target), len(parts)) and target[common] == parts[common]:
            common += 1
        dots = "." * (len(target) - common + 1)
        return dots + ".".join(parts[common:])


def _member_key(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        kind = 0  # CONSTANT
    elif name[:1].isupper():
        kind = 1  # Class
    else:
        kind = 2  # function / variable
    return kind, name.lower()


def _render_from(module: str, names: list[tuple[str, str]]) -> str:
    ordered = sorted(names, key=lambda item: _member_key(item[0]))
    items = [n if n == b else f"{n} as {b}" for n, b in ordered]
    line = f"from {module} import {', '.join(items)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {item},\n" for item in items)
    return f"from {module} import (\n{body})"


def _used_names(code: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}


@dataclass
class Param:
    """One parameter as written in a signature, and how a forwarding call passes it on."""

    text: str  # as written in the signature ("*", "/" for markers)
    forward: str | None  # as written in the forwarding call, None for markers and self


def _params(source: Source, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Param]:
    args = fn.args

    def one(arg: ast.arg, default: ast.expr | None, forward: str | None) -> Param:
        text = arg.arg
        if arg.annotation is not None:
            text += ": " + source.segment(arg.annotation)
            if default is not None:
                text += " = " + source.segment(default)
        elif default is not None:
            text += "=" + source.segment(default)
        return Param(text, forward)

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    result: list[Param] = []
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        forward = None if index == 0 and arg.arg in ("self", "cls") else arg.arg
        result.append(one(arg, default, forward))
        if args.posonlyargs and index == len(args.posonlyargs) - 1:
            result.append(Param("/", None))
    if args.vararg is not None:
        vararg = one(args.vararg, None, "*" + args.vararg.arg)
        result.append(Param("*" + vararg.text, vararg.forward))
    elif args.kwonlyargs:
        result.append(Param("*", None))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        result.append(one(arg, kw_default, f"{arg.arg}={arg.arg}"))
    if args.kwarg is not None:
        kwarg = one(args.kwarg, None, "**" + args.kwarg.arg)
        result.append(Param("**" + kwarg.text, kwarg.forward))
    return result


def _sync_returns(source: Source, fn: ast.FunctionDef | ast.AsyncFunctionDef, kind: str) -> str:
    if fn.returns is None:
        raise GenerationError(f"{fn.name}: add a return annotation")
    if kind == "iterate":
        returns = fn.returns
        if isinstance(returns, ast.Subscript):
            inner = returns.slice.elts[0] if isinstance(returns.slice, ast.Tuple) else returns.slice
            return f"Iterator[{source.segment(inner)}]"
        raise GenerationError(f"{fn.name}: annotate the item type, e.g. AsyncIterator[Item]")
    return source.segment(fn.returns)


def _signature(
    source: Source,
    fn: ast.FunctionDef | ast.AsyncFunctionDef,
    returns: str,
    *,
    indent: str,
    stub: bool,
) -> str:
    decorators = "".join(f"{indent}@{source.segment(d)}\n" for d in fn.decorator_list)
    params = [p.text for p in _params(source, fn)]
    tail = f" -> {returns}:" + (" ..." if stub else "")
    one_line = f"{indent}def {fn.name}({', '.join(params)}){tail}"
    if len(params) <= 1 and len(one_line) <= LINE_LENGTH:
        return decorators + one_line + "\n"
    inner = "".join(f"{indent}    {p},\n" for p in params)
    return f"{decorators}{indent}def {fn.name}(\n{inner}{indent}){tail}\n"


def _docstring(source: Source, body: Sequence[ast.stmt], indent: str) -> str:
    node = _docstring_node(body)
    if node is None:
        return ""
    return indent + source.segment(node.value) + "\n"


def _forward_call(target: str, method: Method, source: Source, indent: str) -> str:
    """`return self._core.<call|iterate>(...)` passing every argument on unchanged."""
    runner = "call" if method.kind == "call" else "iterate"
    forwards = [p.forward for p in _params(source, method.impl) if p.forward is not None]
    if not forwards:
        line = f"{indent}return self._core.{runner}({target}.{method.name})"
        if len(line) > LINE_LENGTH:
            raise GenerationError(f"{method.name}: forwarding line too long")
        return line + "\n"
    args = "".join(f"{indent}    {a},\n" for a in forwards)
    return (
        f"{indent}return self._core.{runner}(\n"
        f"{indent}    {target}.{method.name},\n"
        f"{args}"
        f"{indent})\n"
    )


def _method_code(target: str, method: Method, source: Source) -> str:
    parts = []
    for overload in method.overloads:
        returns = _sync_returns(source, overload, method.kind)
        parts.append(_signature(source, overload, returns, indent="    ", stub=True))
    impl = method.impl
    returns = _sync_returns(source, impl, method.kind)
    code = _signature(source, impl, returns, indent="    ", stub=False)
    code += _docstring(source, impl.body, "        ")
    code += _forward_call(target, method, source, "        ")
    parts.append(code)
    return "\n".join(parts)


def _property_code(target: str, prop: Prop, source: Source) -> str:
    fn = prop.node
    code = _signature(
        source, fn, source.segment(fn.returns) if fn.returns else "None", indent="    ", stub=False
    )
    code += _docstring(source, fn.body, "        ")
    code += f"        return {target}.{prop.name}\n"
    return code


def _banner(origin: str) -> str:
    return f"# generated by {GENERATOR} -- do not edit\n# source: {origin}\n"


def _module_text(banner: str, docstring: str, imports: Imports, body: str) -> str:
    header = f'{banner}"""{docstring}"""\n\n'
    return header + imports.render(_used_names(body)) + "\n" + body


def _all_line(names: Sequence[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    line = f"__all__ = [{quoted}]"
    if len(line) <= LINE_LENGTH:
        return line + "\n"
    return "__all__ = [\n" + "".join(f'    "{n}",\n' for n in names) + "]\n"


def _resource_module(module: str, classes: list[AsyncClass]) -> str:
    source = classes[0].source
    imports = Imports(SYNC_PACKAGE)
    imports.offer_from(source)
    imports.offer("partial", ImportedName("functools", "partial"))
    imports.offer("Callable", ImportedName("collections.abc", "Callable"))
    imports.offer("Iterator", ImportedName("collections.abc", "Iterator"))
    imports.offer("PortalCore", ImportedName(f"{PACKAGE}._portal", "PortalCore"))
    imports.offer("AsyncPolar", ImportedName(f"{PACKAGE}._client", "AsyncPolar"))
    for cls in classes:
        imports.offer(cls.async_name, ImportedName(source.module, cls.async_name))

    chunks = [_all_line(sorted(c.sync_name for c in classes))]
    for cls in classes:
        target = "self._get(self._core.client)"
        members = [
            '    __slots__ = ("_core", "_get")\n',
            "    def __init__(\n"
            "        self,\n"
            "        core: PortalCore[AsyncPolar],\n"
            f"        get: Callable[[AsyncPolar], {cls.async_name}],\n"
            "    ) -> None:\n"
            "        self._core = core\n"
            "        self._get = get\n",
        ]
        members += [_property_code(target, p, source) for p in cls.props]
        members += [_method_code(target, m, source) for m in cls.methods]
        doc = _docstring(source, cls.node.body, "    ")
        head = f"class {cls.sync_name}:\n{doc}"
        chunks.append(head + ("\n" if doc else "") + "\n".join(members))
    body = "\n\n".join(chunks)
    docstring = _module_docstring(source)
    return _module_text(_banner(f"polar_sdk/resources/{module}.py"), docstring, imports, body)


def _module_docstring(source: Source) -> str:
    return f"Blocking mirror of `{source.module}` (generated)."


_CLIENT_DOC = '''"""Blocking client for the Polar API: a generated mirror of `AsyncPolar`.

    Every method blocks until its answer arrives. Calls run on one private event-loop thread
    that the client starts on first use (or when entering a `with` block) and stops in
    `close()`, so all the threads of a program can share one `Polar` and its connection
    pool. Use it as a context manager or call `close()` when done; a closed client raises
    `ClientClosedError`. Calling it from its own loop thread (an httpx event hook) raises
    `BlockingUsageError`. After `os.fork()` the child gets its own thread and pool.

{sections}
    """'''

_CLIENT_METHODS = '''    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._core.closed

    def with_options(
        self,
        *,
        access_token: str | NotGiven | None = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> Polar:
        """A client with other settings that shares this one's thread and connections.

        For another credential (a customer session token for the portal operations, an
        OAuth2 client's registration token, one organization's OAuth token) or other
        defaults. Nothing new is started and there is nothing to close: `close()` on the
        view does nothing. `access_token=None` makes a view that sends no token.
        """
        clone = object.__new__(Polar)
        clone._core = self._core
        clone._owner = False
        clone._caller = self._caller.with_options(
            access_token=access_token, timeout=timeout, retry=retry, deadline=deadline
        )
        return clone

    def __repr__(self) -> str:
        return f"Polar(base_url={{self.base_url!r}})"

    def close(self) -> None:
        """Close the connection pool and stop the client's event-loop thread.

        A caller-supplied `http_client` stays open. Calling `close()` again does nothing, and
        so does calling it on a view from `with_options()`.
        """
        if self._owner:
            self._core.close()

    def __enter__(self) -> Polar:
        self._core.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
'''

# AsyncPolar members the template above replaces.
_CLIENT_OWN = {
    "closed",
    "aclose",
    "__aenter__",
    "__aexit__",
    "__repr__",
    "__init__",
    "with_options",
}


def _blocking_words(text: str) -> str:
    """Docstring text of the async client as it reads for the blocking one."""
    for old, new in (("`aclose()`", "`close()`"), ("`async with`", "`with`")):
        text = text.replace(old, new)
    return text


def _client_module(package_dir: Path, resources: list[AsyncClass]) -> str:
    source = Source.read(package_dir, "_client.py")
    cls_node = next(
        (n for n in source.tree.body if isinstance(n, ast.ClassDef) and n.name == "AsyncPolar"),
        None,
    )
    if cls_node is None:
        raise GenerationError("polar_sdk/_client.py has no class AsyncPolar")
    init = next(
        (n for n in cls_node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
        None,
    )
    if init is None:
        raise GenerationError("AsyncPolar has no __init__")
    by_async_name = {r.async_name: r for r in resources}

    imports = Imports(SYNC_PACKAGE)
    imports.offer_from(source)
    imports.offer("partial", ImportedName("functools", "partial"))
    imports.offer("TracebackType", ImportedName("types", "TracebackType"))
    imports.offer("Iterator", ImportedName("collections.abc", "Iterator"))
    imports.offer("PortalCore", ImportedName(f"{PACKAGE}._portal", "PortalCore"))
    imports.offer("AsyncPolar", ImportedName(f"{PACKAGE}._client", "AsyncPolar"))
    imports.offer("DEFAULT_DEADLINE", ImportedName(f"{PACKAGE}._client", "DEFAULT_DEADLINE"))
    imports.offer("core_of", ImportedName(f"{PACKAGE}._client", "core_of"))
    imports.offer("BlockingCaller", ImportedName(f"{PACKAGE}._resource", "BlockingCaller"))
    imports.offer("NotGiven", ImportedName(f"{PACKAGE}._types", "NotGiven"))
    imports.offer("NOT_GIVEN", ImportedName(f"{PACKAGE}._types", "NOT_GIVEN"))
    imports.offer("NotGivenOr", ImportedName(f"{PACKAGE}._types", "NotGivenOr"))
    imports.offer("TimeoutTypes", ImportedName(f"{PACKAGE}._types", "TimeoutTypes"))
    imports.offer("RetryPolicy", ImportedName(f"{PACKAGE}._retry", "RetryPolicy"))
    for res in resources:
        module = res.source.module.rpartition(".")[2]
        imports.offer(res.sync_name, ImportedName(f"{SYNC_PACKAGE}.{module}", res.sync_name))
    # Generated mixins of resource attributes (`AsyncResources` -> the blocking `Resources`).
    bases: list[str] = []
    for base in cls_node.bases:
        if isinstance(base, ast.Name) and base.id.startswith("Async"):
            sync_base = base.id.removeprefix("Async")
            imports.offer(sync_base, ImportedName(f"{SYNC_PACKAGE}.resources", sync_base))
            bases.append(sync_base)

    # class docstring: our own introduction, then AsyncPolar's Args/Raises sections
    doc_node = _docstring_node(cls_node.body)
    sections = ""
    if doc_node is not None:
        assert isinstance(doc_node.value, ast.Constant)
        assert isinstance(doc_node.value.value, str)
        cleaned = inspect.cleandoc(doc_node.value.value)
        marker = cleaned.find("\nArgs:")
        if marker == -1:
            marker = cleaned.find("\nRaises:")
        if marker != -1:
            tail = _blocking_words(cleaned[marker + 1 :])
            sections = "\n".join(("    " + line) if line else "" for line in tail.splitlines())
    doc = _CLIENT_DOC.format(sections=sections)
    if not sections:
        doc = doc.replace("\n\n\n", "\n\n")

    members: list[str] = []
    # resource attributes with their attribute docstrings
    attrs: list[str] = []
    resource_attrs: list[tuple[str, AsyncClass]] = []
    body = cls_node.body
    for index, item in enumerate(body):
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        annotation = item.annotation
        if not (isinstance(annotation, ast.Name) and annotation.id in by_async_name):
            continue
        res = by_async_name[annotation.id]
        name = item.target.id
        resource_attrs.append((name, res))
        text = f"    {name}: {res.sync_name}\n"
        following = body[index + 1] if index + 1 < len(body) else None
        if following is not None and _docstring_node([following]) is not None:
            assert isinstance(following, ast.Expr)
            text += "    " + source.segment(following.value) + "\n"
        attrs.append(text)
    if attrs:
        members.append("\n".join(attrs))
    skip = _CLIENT_OWN | {name for name, _ in resource_attrs}
    client = _read_class(source, cls_node, skip=skip)

    # __init__: same parameters, an AsyncPolar built from them, the resources
    params = _params(source, init)
    forwards = [p.forward for p in params if p.forward is not None]
    init_code = _signature(
        source,
        init,
        source.segment(init.returns) if init.returns else "None",
        indent="    ",
        stub=False,
    )
    names = {p.forward.lstrip("*").partition("=")[0] for p in params if p.forward}
    owns = "http_client is None" if "http_client" in names else "True"
    init_code += (
        "        self._core: PortalCore[AsyncPolar] = PortalCore(\n"
        "            partial(\n"
        "                AsyncPolar,\n"
        + "".join(f"                {a},\n" for a in forwards)
        + "            ),\n"
        f"            owns_transport={owns},\n"
        "        )\n"
        "        self._owner = True\n"
        "        core = self._core\n"
        "        self._caller = BlockingCaller(core, lambda: core_of(core.client))\n"
    )
    for name, res in resource_attrs:
        init_code += (
            f"        self.{name} = {res.sync_name}(\n"
            "            self._core,\n"
            f"            lambda client: client.{name},\n"
            "        )\n"
        )
    members.append(init_code)
    members += [_property_code("self._core.client", p, source) for p in client.props]
    members.append(_CLIENT_METHODS.format())
    members += [_method_code("self._core.client", m, source) for m in client.methods]

    head = f"class Polar({', '.join(bases)}):" if bases else "class Polar:"
    class_code = f"{head}\n    {doc}\n\n" + "\n".join(members)
    body_code = _all_line(["Polar"]) + "\n\n" + class_code
    docstring = "`Polar`: the blocking client, a generated mirror of `AsyncPolar`."
    return _module_text(_banner("polar_sdk/_client.py"), docstring, imports, body_code)


def _package_init(resources: list[AsyncClass]) -> str:
    imports = Imports(SYNC_PACKAGE)
    imports.offer("Polar", ImportedName(f"{SYNC_PACKAGE}._client", "Polar"))
    for res in resources:
        module = res.source.module.rpartition(".")[2]
        imports.offer(res.sync_name, ImportedName(f"{SYNC_PACKAGE}.{module}", res.sync_name))
    names = sorted(["Polar", *(r.sync_name for r in resources)])
    body = _all_line(names)
    used = set(names)
    docstring = "The blocking facade over the async core, generated from it: edit the async code."
    return (
        f'{_banner("the async package")}"""{docstring}"""\n\n'
        + imports.render(used).replace("from __future__ import annotations\n\n", "")
        + "\n"
        + body
    )


def generate(package_dir: Path = ROOT / PACKAGE) -> dict[str, str]:
    """The facade's files (name -> text) for the async package in `package_dir`."""
    # Resource classes are generated from the spec (codegen/openapi/emit_resources.py), both
    # worlds at once; only hand-written async resource modules would be mirrored here.
    resources = read_resources(package_dir)
    names = [r.sync_name for r in resources]
    if len(set(names)) != len(names) or "Polar" in names:
        raise GenerationError(f"resource class names collide: {names}")
    files: dict[str, str] = {}
    by_module: dict[str, list[AsyncClass]] = {}
    for res in resources:
        by_module.setdefault(res.source.module.rpartition(".")[2], []).append(res)
    for module, classes in by_module.items():
        if module.startswith("_"):
            raise GenerationError(f"resource module {module} would clash with _client/_init")
        files[f"{module}.py"] = _resource_module(module, classes)
    files["_client.py"] = _client_module(package_dir, resources)
    files["__init__.py"] = _package_init(resources)
    return dict(sorted(files.items()))


def write(files: dict[str, str], out_dir: Path) -> None:
    """Make `out_dir` hold exactly `files`: write them and remove other .py files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.py"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def stale_files(files: dict[str, str], out_dir: Path) -> list[str]:
    """Names that differ between `files` and `out_dir` (missing, changed or extra)."""
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in out_dir.glob("*.py")}
    return sorted(n for n in set(on_disk) | set(files) if on_disk.get(n) != files.get(n))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--out", type=Path, default=ROOT / PACKAGE / "_sync")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        stale = stale_files(files, args.out)
        for name in stale:
            path = args.out / name
            old = path.read_text(encoding="utf-8").splitlines(True) if path.exists() else []
            new = files.get(name, "").splitlines(True)
            sys.stdout.writelines(difflib.unified_diff(old, new, f"{name} (on disk)", name))
        if stale:
            print(f"stale: {', '.join(stale)}; run `nox -s generate`", file=sys.stderr)
            return 1
        return 0
    write(files, args.out)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
