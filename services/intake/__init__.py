"""Intake service: the HTTP ways in (API, Open311, mobile form), CSV import, access control.

Run with `lagesbild intake`, or `uvicorn services.intake.main:create_app --factory`.
"""
