"""Compute profiles: the analytic FLOPs model of long generations."""
