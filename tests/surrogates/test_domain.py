"""Applicability-domain distances (screening.surrogates.domain) against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from screening.surrogates.domain import SubsystemDomain, nearest_l1


def _random_fractions(rng, n: int, columns: int = 12, elements: tuple[int, int] = (1, 5)) -> np.ndarray:
    out = np.zeros((n, columns))
    for i in range(n):
        k = rng.integers(*elements)
        cols = rng.choice(8, k, replace=False)  # 8 common elements: many shared systems
        v = rng.random(k)
        out[i, cols] = v / v.sum()
    return out


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return _random_fractions(rng, 800), _random_fractions(rng, 300)


def test_nearest_l1_is_the_brute_force_minimum(data):
    ref, queries = data
    queries = queries.copy()
    queries[5] = np.nan
    got = nearest_l1(ref, queries)
    expected = np.array([np.abs(ref - q).sum(axis=1).min() for q in queries])
    assert np.isnan(got[5])
    np.testing.assert_allclose(np.delete(got, 5), np.delete(expected, 5), atol=1e-12)
    assert nearest_l1(ref[:0], queries).size == len(queries) and np.isnan(nearest_l1(ref[:0], queries)).all()


def test_subsystem_distance_is_the_minimum_over_subsystem_rows(data):
    ref, queries = data
    domain = SubsystemDomain.from_fractions(ref)
    got = domain.distance(queries)
    ref4 = np.round(ref, 4)

    def brute(q):
        own = set(np.flatnonzero(q > 0))
        rows = [r for r in ref4 if set(np.flatnonzero(r > 0)) <= own]
        return min((np.abs(r - q).sum() for r in rows), default=2.0)

    np.testing.assert_allclose(got, [brute(q) for q in queries], atol=1e-6)
    # never closer than the exact nearest row (up to the stored rounding)
    assert (got >= nearest_l1(ref, queries) - 1e-3).all()
    # a training composition is at distance 0; a system with no training row made of its elements at 2
    assert domain.distance(ref[:3]) == pytest.approx([0, 0, 0], abs=5e-4)  # stored rounded to 4 decimals
    lone = np.zeros((1, ref.shape[1]))
    lone[0, 10] = 1.0  # column 10 is in no training row
    assert domain.distance(lone)[0] == 2.0


def test_subsystem_domain_round_trips_through_plain_arrays(data):
    ref, queries = data
    domain = SubsystemDomain.from_fractions(ref)
    arrays = domain.to_arrays()
    assert all(isinstance(v, (np.ndarray, int)) for v in arrays.values())
    again = SubsystemDomain.from_arrays(arrays)
    assert len(again) == len(domain) == len(np.unique(np.round(ref, 4), axis=0))
    np.testing.assert_array_equal(again.distance(queries), domain.distance(queries))


def test_subsystem_distance_of_bad_rows_is_nan(data):
    ref, _ = data
    domain = SubsystemDomain.from_fractions(ref)
    bad = np.full((2, ref.shape[1]), np.nan)
    crowded = np.full((1, ref.shape[1]), 1.0 / ref.shape[1])  # 12 elements > max_elements
    assert np.isnan(domain.distance(bad)).all() and np.isnan(domain.distance(crowded, max_elements=10)).all()
    assert domain.distance(np.zeros((0, ref.shape[1]))).shape == (0,)
