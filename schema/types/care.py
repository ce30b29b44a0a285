"""Contract version 2's items: the course (CarePlan), disease values and medication."""

from __future__ import annotations

import datetime as dt

import strawberry

from core import records
from plans import model

from .base import instance_of
from .items import Sourced

__all__ = ["Course", "Measurement", "MeasurementOrigin", "Medication", "Organisation"]

MeasurementOrigin = records.MeasurementOrigin
strawberry.enum(
    MeasurementOrigin,
    description=(
        "Where a value was measured. LAB: a laboratory result (Observation.category code "
        "`laboratory`); HOME: measured by the patient at home (category "
        "`urn:minplan:origin|home`, which wins over the others); CLINIC: anything else, "
        "e.g. measured at the GP's or in the outpatient clinic."
    ),
)


@strawberry.type(description="An organisation of the health service, by SOR code and name.")
class Organisation:
    sor: str | None = strawberry.field(description="Its SOR code, e.g. 380101000016003.")
    name: str | None = strawberry.field(description="Its name, as the source gives it.")

    is_type_of = instance_of(records.OrganisationRef)


@strawberry.type(
    description=(
        "The course of one care package: the care plan made for it in the care-plan "
        "solution (a FHIR CarePlan). Of several, the active or on-hold one created last; "
        "else the completed one created last. Draft and revoked plans are never a course. "
        "Hidden with the `goals` section when consent blocks it."
    )
)
class Course(Sourced):
    status: str = strawberry.field(
        description="FHIR CarePlan.status as is: active, on-hold or completed."
    )
    started_at: dt.date | None = strawberry.field(
        description="When the patient entered the package course (CarePlan.period.start)."
    )
    plan_created_at: dt.datetime | None = strawberry.field(
        description="When the plan was made (CarePlan.created)."
    )
    coordinator: Organisation | None = strawberry.field(
        description=(
            "The coordinating organisation (tovholder), from CarePlan.author; null when "
            "the plan names none."
        ),
    )
    last_review_at: dt.date | None = strawberry.field(
        description="The day of the latest completed control (a `review` activity), if any."
    )
    next_review_due: dt.date | None = strawberry.field(
        description=(
            "When the next control is due: the earliest scheduled, not-started or "
            "in-progress one; without one, 12 months after the last completed control "
            "(or after the plan was made, when none is completed)."
        )
    )

    is_type_of = instance_of(records.CourseRecord)


@strawberry.type(
    description=(
        "A disease value: a lab result, or a value measured in the clinic or at home "
        "(a FHIR Observation), with the target of the package's goal for it."
    )
)
class Measurement(Sourced):
    system: str = strawberry.field(
        description='The code system, e.g. "http://loinc.org" or NPU "urn:oid:1.2.208.176.2.1".'
    )
    code: str = strawberry.field(description='What was measured, e.g. "20150-9" (FEV1).')
    display: str | None = strawberry.field(description="What was measured, in words.")
    value: float | None = strawberry.field(description="The value, as the source gives it.")
    unit: str | None = strawberry.field(description='Its unit, e.g. "L" or "mmol/mol".')
    at: dt.datetime = strawberry.field(description="When it was measured.")
    origin: MeasurementOrigin = strawberry.field(description="Lab, clinic or home.")
    performer: str | None = strawberry.field(description="Who measured it.")
    target: str | None = strawberry.field(
        description=(
            "The target of this package's active goal for this code, as text (\"< 53 "
            'mmol/mol", "110–130 mmHg"); of several goals, the one due soonest. Null '
            "without such a goal the viewer may see, and in `unassigned`."
        )
    )
    on_target: bool | None = strawberry.field(
        description=(
            "Whether the value lies in the goal's range (bounds included) or meets its "
            "comparator. Null when there is nothing to compare: no goal, no value, a "
            "quantity without a comparator, or a target in words."
        )
    )
    is_type_of = instance_of(model.Measurement)


@strawberry.type(
    description=(
        "A medicine the patient takes or took, from the shared medication record "
        "(a FHIR MedicationStatement)."
    )
)
class Medication(Sourced):
    name: str = strawberry.field(
        description='The medicine as prescribed, e.g. "Spiriva Respimat 2,5 mikrog/dosis".'
    )
    atc: str | None = strawberry.field(description='Its ATC code, e.g. "R03BB04".')
    status: str = strawberry.field(
        description="FHIR MedicationStatement.status as is: active, completed, stopped…"
    )
    start: dt.date | None = strawberry.field(description="When the patient began taking it.")
    end: dt.date | None = strawberry.field(description="When the patient stopped, if so.")
    dosage: str | None = strawberry.field(description="How to take it, in words.")
    prescriber: str | None = strawberry.field(description="Who prescribed it.")
    is_type_of = instance_of(records.MedicationRecord)
