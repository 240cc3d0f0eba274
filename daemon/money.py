"""Amounts as the owner reads them: in the business's currency and locale, formatted by Babel
(its CLDR data knows each currency's symbol, decimals and each locale's separators)."""

from __future__ import annotations

from collections.abc import Callable

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_percent

#: An amount (a float, as the store keeps it) to its text, e.g. 1250.0 -> "$1,250.00".
Money = Callable[[float], str]


def money_in(currency: str, locale: str) -> Money:
    """The formatter of one business: `currency` (ISO 4217) written for a reader of `locale` (a
    tag like "en-US"; its language alone when Babel does not know the region, English when it
    knows neither, as the tag is checked for its shape only)."""
    found = _locale(locale)
    return lambda amount: format_currency(amount, currency, locale=found)


def percent_in(locale: str) -> Money:
    """A percentage (10 for 10%) written for a reader of `locale`: "10%", "10 %" in French,
    "12.5%" (a fraction kept, never rounded away)."""
    found = _locale(locale)
    return lambda value: format_percent(value / 100, locale=found, decimal_quantization=False)


def _locale(tag: str) -> Locale:
    for candidate in (tag, tag.split("-")[0], "en"):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("English is always known")
