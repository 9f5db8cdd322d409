"""The crowd simulation's ground truth, and precision/recall of notifications against it."""

from __future__ import annotations

import numpy as np

from episignal.exposure.crowd import CrowdParams, RadioModel, simulate_crowd
from episignal.exposure.evaluate import evaluate_crowd

SMALL = CrowdParams(people=60, places=6, days=2, seed=3)


def test_signal_weakens_with_distance_in_the_path_loss_model() -> None:
    radio = RadioModel(shadowing_sigma_db=0.0)
    rng = np.random.default_rng(0)
    near, far = radio.rssi(np.array([1.0, 10.0]), rng)
    assert near - far == 20.0  # exponent 2: 20 dB per decade of distance


def test_the_same_seed_gives_the_same_crowd() -> None:
    a, b = simulate_crowd(SMALL), simulate_crowd(SMALL)
    assert a.close_contacts == b.close_contacts
    assert a.diagnosed == b.diagnosed


def test_diagnosed_people_are_never_their_own_close_contacts() -> None:
    run = simulate_crowd(SMALL)
    assert not run.close_contacts & run.diagnosed


def test_evaluation_reports_precision_and_recall_for_each_threshold() -> None:
    result = evaluate_crowd(SMALL)
    assert 0.0 <= result.precision <= 1.0
    assert 0.0 <= result.recall <= 1.0
    thresholds = [r["threshold_weighted_minutes"] for r in result.rows()]
    assert thresholds == sorted(thresholds)
    notified = [r["notified"] for r in result.rows()]
    assert notified == sorted(notified, reverse=True)  # a higher bar notifies fewer people


def test_with_a_noiseless_radio_every_real_close_contact_is_found() -> None:
    quiet = CrowdParams(people=80, places=4, days=2, seed=5, radio=RadioModel(shadowing_sigma_db=0))
    result = evaluate_crowd(quiet)
    assert result.close_contacts > 0
    assert result.recall == 1.0
