"""Vouch: a self-hosted daemon that turns happy customers into referrals."""

__version__ = "0.1.0"
