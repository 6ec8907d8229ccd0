"""A patient document of either kind: a JSON profile or a FHIR R4 Bundle, told apart by its content.

>>> patient_from_document(b'{"age": 50, "sex": "female"}').age
50.0
>>> patient_from_document(b'{"resourceType": "Bundle", "type": "collection", "entry": []}').source
'fhir'
>>> patient_from_document(b"[1, 2]")
Traceback (most recent call last):
...
trialscope.patient.profile.PatientError: The patient document is a JSON list, not an object; give a JSON profile or a FHIR R4 Bundle.
"""

from __future__ import annotations

from typing import Any

import orjson

from trialscope.patient.fhir import patient_from_fhir
from trialscope.patient.jsonprofile import patient_from_json
from trialscope.patient.profile import Patient, PatientError

_KINDS = {list: "a JSON list", str: "a JSON string", int: "a number", float: "a number", bool: "true or false",
          type(None): "null"}  # fmt: skip


def patient_from_document(data: str | bytes | dict[str, Any]) -> Patient:
    """A patient from a JSON document: a FHIR R4 Bundle when it names a ``resourceType``, else a
    JSON profile (:func:`~trialscope.patient.patient_from_json`); PatientError, in one
    sentence, for anything else."""
    if isinstance(data, dict):
        obj: Any = data
    else:
        if not data.strip():
            raise PatientError("The patient document is empty; give a JSON profile or a FHIR R4 Bundle.")
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise PatientError(
                f"The patient document is not valid JSON ({exc}); give a JSON profile or a FHIR R4 Bundle."
            ) from exc
    if not isinstance(obj, dict):
        kind = _KINDS.get(type(obj), "another kind of JSON value")
        raise PatientError(
            f"The patient document is {kind}, not an object; give a JSON profile or a FHIR R4 Bundle."
        )
    if "resourceType" in obj:
        return patient_from_fhir(obj)
    return patient_from_json(obj)
