#!/usr/bin/env bash
# Installs the outside checkers the tests hold threatdesk's outputs to, from PyPI, into
# target/py-tools (a virtual environment): feedparser (feeds), stix2-validator (STIX 2.1), pymisp (MISP), taxii2-client (TAXII 2.1), aiosmtpd (an SMTP server for mail tests). Usage: scripts/get-py-tools.sh
# Prints the environment's python; tests find it at the default place and skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/py-tools
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "feedparser==6.0.*" "stix2-validator==3.*" "pymisp==2.5.*" "taxii2-client==2.3.*" "aiosmtpd==1.4.*" >&2
echo "$venv/bin/python"
