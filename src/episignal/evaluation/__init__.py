"""Accuracy of itineraries against the simulator's ground truth (precision and recall of places)."""

from episignal.evaluation.metrics import HARD_GROUPS, EvaluationReport, GroupMetrics, evaluate

__all__ = ["HARD_GROUPS", "EvaluationReport", "GroupMetrics", "evaluate"]
