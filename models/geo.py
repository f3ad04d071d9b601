"""Great-circle distances, vectorised, for location-aware scoring."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    """Distance in km between broadcastable arrays of coordinates in degrees (NaN propagates)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlng = np.radians(lng2) - np.radians(lng1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (n × 3, float64) for coordinates in degrees; NaN stays NaN.

    Distances between many users and many events then come from one small matrix product
    instead of five trigonometric functions per pair, which dominated batch scoring.
    """
    phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lng))
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def distance_penalty(users: np.ndarray, items: np.ndarray, scale_km: float) -> np.ndarray:
    """``1 − exp(−km / scale_km)`` for every user × item pair of unit vectors (float32).

    The great-circle distance follows exactly from the chord length ``|u − v|`` (``km = 2R·
    asin(chord / 2)``), and ``|u − v|² = 2 − 2 u·v``, so the only per-pair work is a dot product
    from BLAS and three float32 ufuncs. Pairs where either side has no coordinates get 0.
    """
    out = np.zeros((users.shape[0], items.shape[0]), dtype=np.float32)
    rows = np.flatnonzero(np.isfinite(users).all(axis=1))
    cols = np.flatnonzero(np.isfinite(items).all(axis=1))
    if rows.size == 0 or cols.size == 0:
        return out
    cosine = users[rows] @ items[cols].T
    # (chord / 2)² = (1 − u·v) / 2, clipped against rounding just outside [0, 1].
    np.subtract(1.0, cosine, out=cosine)
    dots = cosine.astype(np.float32)
    del cosine
    np.multiply(dots, 0.5, out=dots)
    np.clip(dots, 0.0, 1.0, out=dots)
    np.sqrt(dots, out=dots)
    np.arcsin(dots, out=dots)
    np.multiply(dots, np.float32(-2.0 * EARTH_RADIUS_KM / scale_km), out=dots)
    np.exp(dots, out=dots)
    np.subtract(1.0, dots, out=dots)
    if rows.size == out.shape[0] and cols.size == out.shape[1]:
        return dots
    out[np.ix_(rows, cols)] = dots
    return out
