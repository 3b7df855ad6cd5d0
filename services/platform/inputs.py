"""Input from outside, checked once: JSON bodies of bounded shape, and text the databases, logs and pages can hold.

A JSON body nested thousands deep or holding a number of thousands of digits makes Python's parser raise something
other than a JSON error (RecursionError, ValueError); both are refused here as INVALID_JSON before anything reads them.

PostgreSQL refuses NUL in text, neither database can store a lone UTF-16 surrogate (JSON can escape one), and
control characters in a name or an email only ever serve to confuse a log line or a page.
"""
import json
import math
import unicodedata

from .errors import DomainError

MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 40  # ids go up to 2**63 - 1 (19 digits); nothing here needs more

LINE_BREAKS = frozenset('\n\r\t')


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with `value` as a sentence, or None; `multiline` text may hold line breaks and tabs."""
    for char in value:
        kind = unicodedata.category(char)
        if kind == 'Cs':
            return 'Use valid Unicode text (a lone surrogate was sent).'
        if kind == 'Cc' and not (multiline and char in LINE_BREAKS):
            return 'Remove control characters (such as NUL) from the text.'
    return None


def encodable_problem(value: str) -> str | None:
    """Only what no storage can hold (NUL, lone surrogates): for secrets such as passwords, which may hold anything
    else."""
    if '\x00' in value:
        return 'Remove NUL characters from the text.'
    if any(unicodedata.category(char) == 'Cs' for char in value):
        return 'Use valid Unicode text (a lone surrogate was sent).'
    return None


class InputError(DomainError):
    pass


def parse_json(raw: bytes | str) -> object:
    """The JSON value in `raw`, or InputError INVALID_JSON: bounded depth, bounded numbers, no NaN or Infinity."""
    try:
        value = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError('INVALID_JSON', f'The body is not valid JSON: {error}.') from None
    except RecursionError:
        value = None
        _refuse_depth()
    if _may_nest_too_deeply(raw) and _depth(value) > MAX_DEPTH:
        _refuse_depth()
    return value


def _may_nest_too_deeply(raw: bytes | str) -> bool:
    """Fewer brackets than the limit cannot nest past it: most bodies skip the walk (counting is much cheaper)."""
    opening = ('[', '{') if isinstance(raw, str) else (b'[', b'{')
    return raw.count(opening[0]) + raw.count(opening[1]) > MAX_DEPTH  # type: ignore[arg-type]


def parse_json_object(raw: bytes | str) -> dict:
    """Like `parse_json`, for the bodies that must be one JSON object (empty means `{}`)."""
    body = parse_json(raw or b'{}')
    if not isinstance(body, dict):
        raise InputError('INVALID_JSON', 'The body must be a JSON object.')
    return body


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in `value`, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse_depth() -> None:
    raise InputError('INVALID_JSON', f'The body nests arrays or objects more than {MAX_DEPTH} deep.')


def _parse_int(text: str) -> int:
    if len(text.lstrip('-')) > MAX_NUMBER_DIGITS:
        raise InputError('INVALID_JSON', f'The body holds a number longer than {MAX_NUMBER_DIGITS} digits.')
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise InputError('INVALID_JSON', f'The body holds a number longer than {MAX_NUMBER_DIGITS} digits.')
    number = float(text)
    if not math.isfinite(number):
        raise InputError('INVALID_JSON', 'The body holds a number too large for a float.')
    return number


def _refuse_constant(name: str) -> None:
    raise InputError('INVALID_JSON', f'The body holds {name}, which is not a JSON number.')
