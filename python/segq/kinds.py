"""The broker's table of job kinds (SPEC section 6, KINDS) and the checks a
submission passes against it before anything is sent: the same table the
broker validates SUBMITs with and `segq submit` reads, so the three agree.
The rules are those of proto/segq_params.c (s_coerce, s_check_value).
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors

PARAM_TYPES = {1: "int", 2: "float", 3: "bool", 4: "string", 5: "choice"}
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "True or False",
    "string": "a string",
    "choice": "one of the choices",
}
_INT_LIMIT = 9.2e18  # an integral float beyond this does not fit int64


# Client.submit's own keywords, beside a kind's parameters and inputs
_SUBMIT_KEYWORDS = ("gpu_mem", "cpu_slots", "priority", "time_limit", "max_attempts", "after")
# the CLI's flag for one, where its name differs: what a CLI user types first
_KEYWORD_OF_FLAG = {"cpu": "cpu_slots"}


def suggest(word: str, candidates: Iterable[str]) -> str:
    """ " (did you mean 'niter'?)" for a near miss, else ""."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _bound(value: float) -> str:
    """A range's bound as people write it ("1000000000", not "1e+09")."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


@dataclass(frozen=True)
class KindParam:
    """A parameter: its type (int, float, bool, string, choice), range or
    choices, and default (``required`` when it has none)."""

    name: str
    type: str
    min: float
    max: float
    choices: tuple[str, ...]
    default: Any
    required: bool
    help: str

    def check(self, kind: str, value: Any) -> Any:
        """The value as SUBMIT carries it, or InvalidArgument naming the problem."""
        where = f"{kind} parameter '{self.name}'"
        typed = self._typed(value)
        if typed is None:
            raise errors.InvalidArgument(
                f"{where}: expected {_TYPE_WORDS[self.type]}, got {_shown(value)}"
            )
        if self.type in ("int", "float") and not self.min <= typed <= self.max:
            raise errors.InvalidArgument(
                f"{where}: {typed!r} is out of range "
                f"(expected {_bound(self.min)}..{_bound(self.max)})"
            )
        if self.type == "choice" and typed not in self.choices:
            raise errors.InvalidArgument(
                f"{where}: '{typed}' is not one of {'|'.join(self.choices)}"
            )
        return typed

    def _typed(self, value: Any) -> Any:
        """The value brought to the parameter's type where that loses nothing, else None."""
        if self.type == "bool":
            return value if isinstance(value, bool) else None
        if self.type in ("string", "choice"):
            return value if isinstance(value, str) else None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
        if self.type == "float":
            number = float(value)
            return number if math.isfinite(number) else None
        if isinstance(value, numbers.Integral):
            return int(value)
        number = float(value)
        return int(number) if number.is_integer() and abs(number) <= _INT_LIMIT else None


@dataclass(frozen=True)
class KindInput:
    """An input: one file, or ``many`` (a folder, a job array's outputs),
    maybe in named ``sets``; ``catalogue``: it may name a trained model."""

    name: str
    required: bool
    unless: str | None
    many: bool
    sets: bool
    catalogue: bool
    help: str

    def excluded(self, params: Mapping[str, Any]) -> bool:
        """Whether a submission with these parameters must not give it (its `unless` is true)."""
        return bool(self.unless) and params.get(self.unless) is True

    def needed(self, params: Mapping[str, Any]) -> bool:
        """Whether a submission with these parameters (defaults filled) must give it."""
        if self.required or not self.unless:
            return self.required
        return not self.excluded(params)


@dataclass(frozen=True)
class Kind:
    """A row of the kind table."""

    name: str
    help: str
    test: bool
    principal_output: str  # what an input naming one of its jobs takes; "*": all
    params: tuple[KindParam, ...]
    inputs: tuple[KindInput, ...]

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> Kind:
        defaults = body["defs"]
        params = tuple(
            KindParam(
                p["name"],
                PARAM_TYPES[p["type"]],
                p["min"],
                p["max"],
                tuple(p["choices"]),
                defaults.get(p["name"]),
                p["name"] not in defaults,
                p["help"] or "",
            )
            for p in body["params"]
        )
        inputs = tuple(
            KindInput(
                i["name"],
                i["required"],
                i["unless"],
                i["many"],
                i["sets"],
                i["catalogue"],
                i["help"] or "",
            )
            for i in body["inputs"]
        )
        return cls(body["name"], body["help"] or "", body["test"], body["out"], params, inputs)

    def param(self, name: str) -> KindParam | None:
        return next((p for p in self.params if p.name == name), None)

    def input(self, name: str) -> KindInput | None:
        return next((i for i in self.inputs if i.name == name), None)

    def unknown(self, name: str) -> errors.InvalidArgument:
        """The error for a name that is neither a parameter nor an input; a
        near miss of one, or of submit's own keywords, is suggested."""
        names = [p.name for p in self.params] + [i.name for i in self.inputs]
        keyword = _KEYWORD_OF_FLAG.get(name)
        hint = (
            f" (did you mean {keyword}=, what `segq submit --{name}` is here?)"
            if keyword
            else suggest(name, names + list(_SUBMIT_KEYWORDS))
        )
        return errors.InvalidArgument(
            f"kind '{self.name}' has no parameter or input '{name}'{hint}; "
            f"its parameters: {', '.join(p.name for p in self.params) or 'none'}; "
            f"its inputs: {', '.join(i.name for i in self.inputs) or 'none'}"
        )

    def check_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The given parameters typed as SUBMIT carries them (the broker fills
        in the defaults, and draws a fresh seed where the kind wants one)."""
        checked = {}
        for name, value in given.items():
            spec = self.param(name)
            if spec is None:
                raise self.unknown(name)
            checked[name] = spec.check(self.name, value)
        for spec in self.params:
            if spec.required and spec.name not in checked:
                raise errors.InvalidArgument(f"kind '{self.name}' needs parameter '{spec.name}'")
        return checked

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """params with every default filled in, as the broker will see them."""
        return {p.name: params.get(p.name, p.default) for p in self.params}
