"""Inspection figures over a map's codes. neighbours: k nearest neighbours in the latent space."""
