"""The itinerary card: policy (versioned configuration), colour rules, assembly, QR tokens."""
