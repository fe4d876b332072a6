"""gunicorn's entry to nova-api's compute API (`nova.wsgi.osapi_compute`).

nova's WSGI module hands `sys.argv` to oslo.config, which under gunicorn is
gunicorn's own command line (`--workers 4 ...`) and fails to parse: the
argv is reset to the program name before nova is imported. Configuration
comes from `$OS_NOVA_CONFIG_DIR` (api-paste.ini and nova.conf), as for any
WSGI server.
"""
import sys

sys.argv = ['nova-api-os-compute']

from nova.wsgi.osapi_compute import application  # noqa: E402,F401
