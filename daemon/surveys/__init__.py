"""Surveys and answers: the owner's survey definitions, survey emails, and recording an answer."""
