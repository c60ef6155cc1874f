"""Planning methods: each turns an instance into a stocking plan. See `base.register`."""

from .base import METHODS, Plan, PlanRequest, get_method, register

__all__ = ["METHODS", "Plan", "PlanRequest", "get_method", "register"]
