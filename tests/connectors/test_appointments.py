"""The ``appointments`` source: Appointment → AppointmentRecord, the contract's status mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.appointments import SOURCE, parse_appointment
from core.records import AppointmentRecord, AppointmentStatus
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    Factory,
    Fetch,
    icd10,
    patient_ref,
    restricted_label,
    sks,
)

CET = timezone(timedelta(hours=1))


def test_appointment_maps_every_field(make_appointment: Factory) -> None:
    resource = make_appointment(
        "appt-kontrol", CPR_A, codes=[icd10("J44.9"), sks("DM545")], refs=["cond-kol"]
    )
    assert parse_appointment(SOURCE, resource) == AppointmentRecord(
        source="appointments",
        source_id="appt-kontrol",
        patient=CPR_A,
        codes=("J44.9", "M54.5"),
        condition_refs=("cond-kol",),
        withheld=False,
        status=AppointmentStatus.BOOKED,
        start=datetime(2027, 2, 1, 9, 0, tzinfo=CET),
        end=datetime(2027, 2, 1, 9, 30, tzinfo=CET),
        description="Årskontrol for KOL",
        actor="Lægerne Søndergade, Aarhus",
    )


@pytest.mark.parametrize(
    ("fhir_status", "expected"),
    [
        pytest.param("proposed", AppointmentStatus.PLANNED, id="proposed-maps-to-PLANNED"),
        pytest.param("pending", AppointmentStatus.PLANNED, id="pending-maps-to-PLANNED"),
        pytest.param("booked", AppointmentStatus.BOOKED, id="booked-maps-to-BOOKED"),
        pytest.param("arrived", AppointmentStatus.BOOKED, id="arrived-maps-to-BOOKED"),
        pytest.param("checked-in", AppointmentStatus.BOOKED, id="checked-in-maps-to-BOOKED"),
        pytest.param("waitlist", AppointmentStatus.BOOKED, id="waitlist-maps-to-BOOKED"),
        pytest.param("fulfilled", AppointmentStatus.COMPLETED, id="fulfilled-maps-to-COMPLETED"),
        pytest.param("cancelled", AppointmentStatus.CANCELLED, id="cancelled-maps-to-CANCELLED"),
        pytest.param("noshow", AppointmentStatus.NO_SHOW, id="noshow-maps-to-NO_SHOW"),
        pytest.param("entered-in-error", None, id="entered-in-error-is-dropped"),
    ],
)
def test_status_mapping(
    make_appointment: Factory, fhir_status: str, expected: AppointmentStatus | None
) -> None:
    record = parse_appointment(SOURCE, make_appointment(status=fhir_status))
    assert (record.status if record else None) is expected


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("bogus-status", id="unknown-word"),
        pytest.param("BOOKED", id="upper-case"),
        pytest.param("", id="empty"),
    ],
)
def test_unknown_status_is_unreadable(make_appointment: Factory, status: str) -> None:
    with pytest.raises(ValidationError, match="status"):
        parse_appointment(SOURCE, make_appointment(status=status))


@pytest.mark.parametrize(
    ("participants", "actor"),
    [
        pytest.param(
            [{"actor": patient_ref(CPR_A)}, {"actor": {"display": "Fysioterapeut Lone"}}],
            "Fysioterapeut Lone",
            id="patient-first",
        ),
        pytest.param(
            [{"actor": {"display": "Lungeklinikken"}}, {"actor": patient_ref(CPR_A)}],
            "Lungeklinikken",
            id="patient-last",
        ),
        pytest.param(
            [
                {"actor": patient_ref(CPR_A)},
                {"actor": {"display": "Lungeklinikken"}},
                {"actor": {"display": "Sygeplejerske Anne"}},
            ],
            "Lungeklinikken",
            id="first-of-two-clinicians",
        ),
        pytest.param(
            [{"type": [{"text": "lokale"}]}, {"actor": {"display": "Lungeklinikken"}}],
            "Lungeklinikken",
            id="participant-without-actor-passed-over",
        ),
        pytest.param([{"actor": patient_ref(CPR_A)}], None, id="patient-only"),
    ],
)
def test_actor_is_the_first_non_patient_participant(
    make_appointment: Factory, participants: list[dict[str, object]], actor: str | None
) -> None:
    resource = make_appointment(participant=participants)
    record = parse_appointment(SOURCE, resource)
    assert record is not None
    assert record.actor == actor


def test_patient_may_be_named_only_as_a_participant(make_appointment: Factory) -> None:
    resource = make_appointment(cpr=CPR_B)
    del resource["subject"]
    record = parse_appointment(SOURCE, resource)
    assert record is not None
    assert (record.patient, record.actor) == (CPR_B, "Lægerne Søndergade, Aarhus")


def test_times_without_offset_are_read_as_utc(make_appointment: Factory) -> None:
    resource = make_appointment(start="2027-02-01T08:00:00", end="2027-02-01T08:30:00Z")
    record = parse_appointment(SOURCE, resource)
    assert record is not None
    assert (record.start, record.end) == (
        datetime(2027, 2, 1, 8, 0, tzinfo=UTC),
        datetime(2027, 2, 1, 8, 30, tzinfo=UTC),
    )


def test_times_keep_their_offset_in_one_shared_untracked_zone(make_appointment: Factory) -> None:
    # Each parsed datetime used to carry its own pydantic TzInfo, which the garbage
    # collector tracks; cached records kept thousands alive.
    import gc

    first = parse_appointment(SOURCE, make_appointment(start="2027-02-01T09:00:00+01:00"))
    second = parse_appointment(SOURCE, make_appointment(start="2027-03-01T10:00:00+01:00"))
    assert first is not None and second is not None and first.start and second.start
    assert first.start.isoformat() == "2027-02-01T09:00:00+01:00"
    assert first.start.tzinfo is second.start.tzinfo
    assert not gc.is_tracked(first.start.tzinfo)


def test_an_appointment_without_time_or_text_is_still_shown(make_appointment: Factory) -> None:
    resource = make_appointment(status="proposed", codes=[])
    for key in ("start", "end", "description", "reasonCode", "reasonReference"):
        del resource[key]
    record = parse_appointment(SOURCE, resource)
    assert record is not None
    assert (record.start, record.end, record.description, record.codes) == (None, None, None, ())


def test_only_condition_references_are_kept(make_appointment: Factory) -> None:
    resource = make_appointment(
        reasonReference=[
            {"reference": "Condition/cond-lrs"},
            {"reference": "Observation/obs-1"},
            {"display": "Rygsmerter"},
            {"reference": "Condition/cond-kol"},
        ]
    )
    record = parse_appointment(SOURCE, resource)
    assert record is not None
    assert record.condition_refs == ("cond-lrs", "cond-kol")


def test_meta_security_r_withholds_the_appointment(make_appointment: Factory) -> None:
    record = parse_appointment(SOURCE, make_appointment(meta={"security": [restricted_label()]}))
    assert record is not None
    assert record.withheld is True


async def test_fetch_skips_the_unreadable_and_drops_entered_in_error(
    fetch: Fetch, make_appointment: Factory
) -> None:
    no_id = make_appointment("appt-noid")
    del no_id["id"]
    resources: list[object] = [
        make_appointment("appt-1", CPR_A, status="booked"),
        make_appointment("appt-bogus", CPR_A, status="bogus-status"),
        make_appointment("appt-error", CPR_A, status="entered-in-error"),
        no_id,
        make_appointment("appt-badstart", CPR_B, start="i morgen"),
        "Appointment/appt-raw: <afkortet>",
        make_appointment("appt-2", CPR_B, status="noshow"),
    ]
    fetched = await fetch("appointments", "Appointment", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 4  # bogus status, no id, bad start, the raw string entry
    by_patient = {
        cpr: [(r.source_id, r.status) for r in rs if isinstance(r, AppointmentRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert by_patient == {
        CPR_A: [("appt-1", AppointmentStatus.BOOKED)],
        CPR_B: [("appt-2", AppointmentStatus.NO_SHOW)],
    }
