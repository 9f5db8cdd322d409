"""Geography: administrative divisions of China, countries, and the place model used everywhere."""

from episignal.geo.divisions import Division, DivisionLevel, Divisions, divisions
from episignal.geo.places import Place, PlaceKind, country_place, place_for_code

__all__ = [
    "Division",
    "DivisionLevel",
    "Divisions",
    "Place",
    "PlaceKind",
    "country_place",
    "divisions",
    "place_for_code",
]
