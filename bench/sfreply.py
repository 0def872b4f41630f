#!/usr/bin/env python3
"""Prints the Salesforce query reply that scripts/bench serves statically.

The benchmark's Salesforce is a static nginx file, so that what is
measured is forcelink and not the Python stand-in.  The file is made here
by the stand-in's own query engine (tests/standin/salesforce.py) for the
search the benchmark sends, /contact smith, with the SOQL forcelink
builds for it (SPEC section 7), so it has exactly the shape and the
content the stand-in would return: six contacts, one with a null Account.

    sfreply.py [VERSION]      (default v62.0)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/standin"))
import salesforce  # noqa: E402

SOQL = ("SELECT Id, Name, Title, Email, Phone, MobilePhone, Account.Id, "
        "Account.Name FROM Contact WHERE Name LIKE '%smith%' "
        "ORDER BY Name LIMIT 10")


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else "v62.0"
    records = salesforce.run_query(salesforce.parse_soql(SOQL), version)
    body = {"totalSize": len(records), "done": True, "records": records}
    sys.stdout.buffer.write(salesforce.to_json(body))


if __name__ == "__main__":
    main()
