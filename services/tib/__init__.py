"""TiB (tjänsteman i beredskap): the live picture and the guards' patrol tasking.

Run with `lagesbild tib serve`, or `uvicorn services.tib.main:create_app --factory`.
"""
