"""A patient as a typed profile: from a free-text note, a JSON profile or a FHIR R4 Bundle.

    >>> from trialscope.patient import patient_from_note, describe
    >>> print(describe(patient_from_note("A 45-year-old man with a history of anaplastic astrocytoma.")))
    Age: 45 years
    Sex: male
    Conditions: anaplastic astrocytoma [Astrocytoma] (history)

The profile uses the criteria package's vocabulary (catalogue variables and units, MeSH terms),
so :func:`trialscope.match.screen` can hold it against a trial's typed criteria. Every fact
carries its evidence: the note span or the JSON/FHIR field it came from.
"""

from trialscope.patient.document import patient_from_document
from trialscope.patient.fhir import patient_from_fhir
from trialscope.patient.jsonprofile import patient_from_json
from trialscope.patient.note import patient_from_note
from trialscope.patient.profile import (
    Condition,
    Evidence,
    Measurement,
    Patient,
    PatientError,
    Treatment,
    describe,
)

__all__ = [
    "Condition",
    "Evidence",
    "Measurement",
    "Patient",
    "PatientError",
    "Treatment",
    "describe",
    "patient_from_document",
    "patient_from_fhir",
    "patient_from_json",
    "patient_from_note",
]
