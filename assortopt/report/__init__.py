"""`assortopt report`: a plan as a planner reads it, an HTML page with PNG figures.

``write_report(inst, stock, out_dir)`` simulates the plan (`assortopt.planner.plan_detail`),
draws the long tail (first-choice demand, units and expected sales by demand rank), the largest
substitution flows and the distribution of season profit (matplotlib, Agg backend), and writes
``report.html`` beside the figures and the product table (``products.csv``).
"""

from .html import write_report

__all__ = ["write_report"]
