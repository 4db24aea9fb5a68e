"""The cohort audit: at every relapse in an OMOP CDM cohort, was the regimen given one the guideline
supports for that patient on that date, and how did patients fare (``myeloma-kg audit``).

``synthetic`` writes a cohort to try it on; ``rules`` reads the audit's data files (the line rule,
the OMOP mapping, the extraction SQL).
"""
