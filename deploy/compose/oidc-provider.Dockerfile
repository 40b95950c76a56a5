# The OpenID provider stand-in of the compose demo: oidc-provider-mock (PyPI), which signs in
# anyone who types a subject. Never use it outside a demo.
FROM python:3.12-slim-bookworm
RUN pip install --no-cache-dir oidc-provider-mock==0.3.4 \
    && useradd --system --uid 10002 --no-create-home --shell /usr/sbin/nologin oidc
USER 10002
EXPOSE 9400
ENTRYPOINT ["python", "-m", "oidc_provider_mock", "--host", "0.0.0.0", "--port", "9400"]
