#!/usr/bin/env bash
# Runs the test suite. PostgreSQL: RAIDT_TEST_POSTGRES_URL if set, else tests/conftest.py
# starts a throwaway cluster (as the postgres user); under CI a missing server fails.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RAIDT_TEST_POSTGRES_URL:-}" ] && [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "note: no PostgreSQL 15 here; the PostgreSQL half of the tests will be skipped" >&2
fi
"${RAIDT_TEST_PYTHON:-.venv/bin/python}" -m pytest -n 2 --dist loadfile "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit $rc
