"""Triton kernels, each with the plain PyTorch reference path it is tested against."""
