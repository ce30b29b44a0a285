"""The synthetic people and organisations of the embedded demo.

Every CPR number is a real date (DDMMYY) with a made-up serial, so it passes
:func:`core.cpr.is_valid_cpr` but belongs to no one. Every SOR code is
made up too. Each patient shows one thing the gateway must get right; their
constants say which.

Example:
    >>> PATIENTS[PATIENT_BOTH], ORGS[ORG_GP]
    ('Birgit Hansen', 'Lægerne Søndergade, Aarhus')
"""

from __future__ import annotations

__all__ = [
    "CLINICIANS",
    "ORGS",
    "ORG_GP",
    "ORG_HOSPITAL",
    "ORG_MUNICIPALITY",
    "ORG_PHYSIO",
    "PATIENTS",
    "PATIENT_BLOCKS",
    "PATIENT_BOTH",
    "PATIENT_BROKEN",
    "PATIENT_COPD",
    "PATIENT_DIABETES_HEART",
    "PATIENT_LBP",
    "PATIENT_MANY",
    "PATIENT_NONE",
    "PROXY_OF_BOTH",
]

PATIENT_COPD = "0101521234"
"""Karen Jensen: COPD only. The fullest single plan: goals, a triage that moved from
yellow to green, withheld GP and hospital notes, and an old, inactive proxy."""

PATIENT_LBP = "1203641234"
"""Jens Nielsen: low back pain only, coded in SKS (DM545). Physiotherapy and back school."""

PATIENT_BOTH = "2307481234"
"""Birgit Hansen: COPD and low back pain, two packages at once. Items linked by
``reasonReference``/``context.related``/``addresses`` rather than codes. Has a proxy."""

PROXY_OF_BOTH = "1508791234"
"""Mette Hansen: Birgit's daughter, holds her power of attorney. Has no packages herself;
her earlier power of attorney for Karen Jensen is inactive."""

PATIENT_NONE = "0512701234"
"""Ole Pedersen: in no package. A resolved COPD Condition and hypertension (I10) only,
so everything he has goes to ``unassigned``."""

PATIENT_BLOCKS = "1709551234"
"""Lis Andersen: COPD. Blocks the hospital from her journal notes and the physiotherapist
from everything; an old, inactive block of her GP must be ignored."""

PATIENT_DIABETES_HEART = "0304661234"
"""Henrik Larsen: type 2 diabetes (ICD-10 E11.9) and heart disease (SKS DI251)."""

PATIENT_BROKEN = "2211881234"
"""Sofie Christensen: low back pain. Several of her resources are broken on purpose
(bad status, missing fields, bad base64, an entry that is not an object) next to good ones."""

PATIENT_MANY = "1010601234"
"""Peter Mortensen: COPD with 45 appointments, so a search pages (3 pages of 20)."""

ORG_GP = "380101000016003"
"""General practice, the coordinator; custodian of most withheld notes."""

ORG_HOSPITAL = "265161000016000"
"""Hospital pulmonary department."""

ORG_MUNICIPALITY = "1001081000016004"
"""Municipal health and care: rehabilitation and health offers."""

ORG_PHYSIO = "469401000016002"
"""A private physiotherapy clinic."""

PATIENTS: dict[str, str] = {
    PATIENT_COPD: "Karen Jensen",
    PATIENT_LBP: "Jens Nielsen",
    PATIENT_BOTH: "Birgit Hansen",
    PROXY_OF_BOTH: "Mette Hansen",
    PATIENT_NONE: "Ole Pedersen",
    PATIENT_BLOCKS: "Lis Andersen",
    PATIENT_DIABETES_HEART: "Henrik Larsen",
    PATIENT_BROKEN: "Sofie Christensen",
    PATIENT_MANY: "Peter Mortensen",
}
"""CPR number → name, for every demo person."""

ORGS: dict[str, str] = {
    ORG_GP: "Lægerne Søndergade, Aarhus",
    ORG_HOSPITAL: "Aarhus Universitetshospital, Lungemedicinsk Afdeling",
    ORG_MUNICIPALITY: "Aarhus Kommune, Sundhed og Omsorg",
    ORG_PHYSIO: "Fysioterapi Nord",
}
"""SOR code → name, for every demo organisation."""

CLINICIANS: dict[str, str] = {
    ORG_GP: "Dr. Hans Berg",
    ORG_HOSPITAL: "Dr. Ida Holm",
    ORG_MUNICIPALITY: "Spl. Lone Kjær",
    ORG_PHYSIO: "Fys. Anders Berg",
}
"""SOR code → the demo clinician ``minplan token`` names by default."""
