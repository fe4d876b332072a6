# A development Keystone for `docker compose --profile keystone up`: the
# same pinned Keystone the tests run (tests/keystone/requirements.txt),
# SQLite, fernet tokens, gunicorn. Not for production.
FROM python:3.11-slim
COPY tests/keystone/requirements.txt /opt/keystone/requirements.txt
RUN pip install --no-cache-dir --requirement /opt/keystone/requirements.txt
COPY docker/keystone-entrypoint.sh /opt/keystone/entrypoint.sh
EXPOSE 5000
ENTRYPOINT ["bash", "/opt/keystone/entrypoint.sh"]
