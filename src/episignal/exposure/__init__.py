"""Bluetooth exposure notification, interoperable with the public GAEN specifications.

Cryptography (``crypto``), the phone's key schedule (``keys``) and client library (``phone``),
risk scoring (``risk``), the export file format (``export_format``), the key server
(``keyserver``), health-authority verification (``verification``) and a crowd simulation with
its evaluation (``crowd``, ``evaluate``).
"""
