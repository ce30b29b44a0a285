"""The ``appointments`` source (the national appointment overview): ``Appointment``."""

from __future__ import annotations

from core.records import AppointmentRecord, AppointmentStatus

from .base import Connector
from .fhir import FhirClient
from .fhirbase import condition_ids
from .fhirmodels import AppointmentModel

__all__ = ["SOURCE", "STATUS_MAP", "AppointmentsConnector", "parse_appointment"]

SOURCE = "appointments"

#: FHIR Appointment.status → the plan's status. ``entered-in-error`` is absent: dropped.
STATUS_MAP: dict[str, AppointmentStatus] = {
    "proposed": AppointmentStatus.PLANNED,
    "pending": AppointmentStatus.PLANNED,
    "booked": AppointmentStatus.BOOKED,
    "arrived": AppointmentStatus.BOOKED,
    "checked-in": AppointmentStatus.BOOKED,
    "waitlist": AppointmentStatus.BOOKED,
    "fulfilled": AppointmentStatus.COMPLETED,
    "cancelled": AppointmentStatus.CANCELLED,
    "noshow": AppointmentStatus.NO_SHOW,
}


def parse_appointment(source: str, resource: dict[str, object]) -> AppointmentRecord | None:
    model = AppointmentModel.model_validate(resource)
    status = STATUS_MAP.get(model.status)
    if status is None:  # entered-in-error: never happened, never shown
        return None
    patient = model.require_patient()
    actor = next(
        (
            p.actor.display
            for p in model.participant
            if p.actor is not None and p.actor.cpr() is None and p.actor.display
        ),
        None,
    )
    codes: dict[str, None] = {}
    for concept in model.reasonCode:
        codes.update(dict.fromkeys(concept.diagnosis_codes()))
    return AppointmentRecord(
        source=source,
        source_id=model.id,
        patient=patient,
        codes=tuple(codes),
        condition_refs=condition_ids(model.reasonReference),
        withheld=model.is_withheld(),
        status=status,
        start=model.start,
        end=model.end,
        description=model.description,
        actor=actor,
    )


class AppointmentsConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"Appointment": parse_appointment})
