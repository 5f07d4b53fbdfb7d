"""Indexes the staff reports need on other features' tables (see the baseline migration).

A month's report for a district of 1,500,000 diary entries reads ~125,000
of them several times (per grid, per worker: kinds, categories, distinct
days and households).  These indexes carry every column those queries read,
so the databases answer from the index alone instead of fetching each entry
(whose text can be long).  They start with the same columns as the diary's
own ``(grid_id, day)`` and ``(worker_id, day)`` indexes, which they make
redundant.
"""

from __future__ import annotations

from sqlalchemy import Index

from models.diary import DiaryEntry

_COUNTED = ("kind", "category", "deleted_at", "case_id", "household_id")

ix_diary_entries_grid_report = Index(
    "ix_diary_entries_grid_report", DiaryEntry.grid_id, DiaryEntry.day, DiaryEntry.worker_id,
    *(getattr(DiaryEntry, c) for c in _COUNTED))
ix_diary_entries_worker_report = Index(
    "ix_diary_entries_worker_report", DiaryEntry.worker_id, DiaryEntry.day, DiaryEntry.grid_id,
    *(getattr(DiaryEntry, c) for c in _COUNTED))
