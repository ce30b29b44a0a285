"""The plan domain: read a plan for a viewer, the consent policy, assembly, the access log.

Import from its modules (``plans.reader.PlanReader``, ``plans.consent``); the package
itself imports nothing.
"""

__all__: list[str] = []
