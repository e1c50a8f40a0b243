"""Setting a clinic up: locations, providers, operatories, patients, appointment types,
appointment descriptors and procedures.

Carebook is the system of record, so it lets a clinic create what NexHealth only reads from an
EHR. Each service validates what types cannot (zones, dates, references inside the tenant,
unique names), then writes through ``db.repositories.clinic`` in one unit of work. Field names in
errors are the NexHealth API's (``location.tz``), the only API that writes these records.
"""
