"""The engine: Ibis expressions from canonical events to stays, itineraries and home locations."""
