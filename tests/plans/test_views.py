"""Plan and package ids: one per patient and view, keyed, revealing neither CPR nor view."""

from __future__ import annotations

import pytest

from plans.consent import Access, ViewerKind
from plans.model import PackageKind
from plans.views import ViewIds, view_key

KEY = b"pseudonym-key-for-tests"
CPR, OTHER_CPR = "0101521234", "2307481234"
GP, HOSPITAL = "380101000016003", "265161000016000"
NONE: frozenset[str] = frozenset()


def clinician(org: str, denied: frozenset[str] = NONE, overridden: frozenset[str] = NONE) -> Access:
    reason = "Akut indlagt" if overridden else None
    return Access(ViewerKind.CLINICIAN, org, denied, overridden, reason)


VIEWS = {
    "patient": view_key(Access(ViewerKind.PATIENT, None, NONE, NONE, None)),
    "proxy-a": view_key(Access(ViewerKind.PROXY, None, NONE, NONE, None), proxy="pseudo-a"),
    "proxy-b": view_key(Access(ViewerKind.PROXY, None, NONE, NONE, None), proxy="pseudo-b"),
    "gp": view_key(clinician(GP)),
    "hospital": view_key(clinician(HOSPITAL)),
    "hospital-journal-blocked": view_key(clinician(HOSPITAL, frozenset({"journal"}))),
    "hospital-all-blocked": view_key(
        clinician(HOSPITAL, frozenset({"journal", "appointments", "diagnoses"}))
    ),
    "hospital-glass": view_key(clinician(HOSPITAL, overridden=frozenset({"journal"}))),
    "gp-glass-nothing-to-override": view_key(
        Access(ViewerKind.CLINICIAN, GP, NONE, NONE, "Akut indlagt")
    ),
}


def test_every_view_has_its_own_key() -> None:
    assert len(set(VIEWS.values())) == len(VIEWS)


def test_the_key_does_not_depend_on_the_order_of_classes_or_the_reason() -> None:
    one = clinician(HOSPITAL, frozenset({"journal", "goals"}))
    two = Access(ViewerKind.CLINICIAN, HOSPITAL, frozenset({"goals", "journal"}), NONE, None)
    assert view_key(one) == view_key(two)
    glass = clinician(HOSPITAL, overridden=frozenset({"journal"}))
    other_reason = Access(
        ViewerKind.CLINICIAN, HOSPITAL, NONE, frozenset({"journal"}), "Bevidstløs"
    )
    assert view_key(glass) == view_key(other_reason)


def test_ids_are_stable_and_keyed() -> None:
    ids, view = ViewIds(KEY), VIEWS["gp"]
    assert ids.plan_id(CPR, view) == ViewIds(bytes(KEY)).plan_id(CPR, view)
    assert ids.package_id(CPR, PackageKind.COPD, view) == ids.package_id(
        CPR, PackageKind.COPD, view
    )
    assert ViewIds(b"another-key").plan_id(CPR, view) != ids.plan_id(CPR, view)


def test_ids_differ_per_patient_kind_and_view_and_hide_the_cpr() -> None:
    ids = ViewIds(KEY)
    plans = {ids.plan_id(cpr, v) for cpr in (CPR, OTHER_CPR) for v in VIEWS.values()}
    packages = {
        ids.package_id(cpr, kind, v)
        for cpr in (CPR, OTHER_CPR)
        for kind in PackageKind
        for v in VIEWS.values()
    }
    assert len(plans) == 2 * len(VIEWS)
    assert len(packages) == 2 * len(PackageKind) * len(VIEWS)
    for value in plans | packages:
        assert not any(part in value for part in (CPR, OTHER_CPR, CPR[:6], OTHER_CPR[:6]))
        assert GP not in value and HOSPITAL not in value


@pytest.mark.parametrize("kind", list(PackageKind), ids=lambda k: k.value)
def test_a_package_id_names_its_kind(kind: PackageKind) -> None:
    assert ViewIds(KEY).package_id(CPR, kind, "patient").startswith(kind.value.lower() + "-")
