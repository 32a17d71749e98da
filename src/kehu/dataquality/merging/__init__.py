"""Merge duplicate customers and undo the merge.

- `registry`: the one list of tables that point at customers (later apps add theirs);
- `services`: `merge_preview`, `customers_merge`, `merge_undo`, `pair_mark_distinct`;
- `selectors`: merge records, old-id redirects, "not a duplicate" pairs for the review queue.
"""
