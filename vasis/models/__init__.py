"""Generators, discriminators and the conditional normalization family."""
