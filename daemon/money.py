"""Amounts as the owner reads them: in the business's currency and locale, formatted by Babel
(its CLDR data knows each currency's symbol, decimals and each locale's separators)."""

from __future__ import annotations

from collections.abc import Callable

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

#: An amount (a float, as the store keeps it) to its text, e.g. 1250.0 -> "$1,250.00".
Money = Callable[[float], str]


def babel_locale(tag: str) -> Locale:
    """The Babel locale for a locale tag such as "en-US" (its language alone when Babel does not
    know the region, English when it knows neither)."""
    for candidate in (tag, tag.split("-")[0], "en"):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("Babel always knows English")  # pragma: no cover


def money(amount: float, currency: str, locale: str) -> str:
    """`amount` of `currency` (ISO 4217) written for a reader of `locale` (a tag like "en-US")."""
    return format_currency(amount, currency, locale=babel_locale(locale))


def money_in(currency: str, locale: str) -> Money:
    """The formatter of one business: `money` with its currency and locale fixed."""
    found = babel_locale(locale)
    return lambda amount: format_currency(amount, currency, locale=found)
