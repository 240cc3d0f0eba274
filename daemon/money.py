"""Amounts as the owner reads them: in the business's currency and locale, formatted by Babel
(its CLDR data knows each currency's symbol, decimals and each locale's separators)."""

from __future__ import annotations

from collections.abc import Callable

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

#: An amount (a float, as the store keeps it) to its text, e.g. 1250.0 -> "$1,250.00".
Money = Callable[[float], str]


def money_in(currency: str, locale: str) -> Money:
    """The formatter of one business: `currency` (ISO 4217) written for a reader of `locale` (a
    tag like "en-US"; its language alone when Babel does not know the region, English when it
    knows neither, as the tag is checked for its shape only)."""
    for candidate in (locale, locale.split("-")[0], "en"):
        try:
            found = Locale.parse(candidate, sep="-")
            break
        except (UnknownLocaleError, ValueError):
            continue
    return lambda amount: format_currency(amount, currency, locale=found)
