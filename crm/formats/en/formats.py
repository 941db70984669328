"""One date format across the admin and the workspace (docs/pages.md): ``Dec 7, 2026`` and
``Dec 7, 2026, 14:05 EST``, the time always with the reader's zone named."""

DATE_FORMAT = "M j, Y"
SHORT_DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i T"
SHORT_DATETIME_FORMAT = "M j, Y, H:i T"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "M j"
YEAR_MONTH_FORMAT = "F Y"
