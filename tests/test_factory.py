"""The app factory itself (like flaskr's test_factory)."""

import pytest
from flask import Flask

from jobs.core.settings import ConfigurationError
from web import app_resources, create_app


def test_config_is_not_testing_by_default(monkeypatch, redis_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("DYNO", raising=False)
    assert not create_app().testing


def test_testing_config(app):
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024


def test_reads_settings_from_the_environment(monkeypatch, redis_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MAX_SEQUENCE_LENGTH", "42")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.delenv("DYNO", raising=False)
    app = create_app({"TESTING": True})
    assert app.extensions["fibtastic"]["settings"].max_sequence_length == 42
    assert app.secret_key == "k" * 40


def test_without_secret_key_off_heroku_a_random_one_is_used(monkeypatch, redis_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNO", raising=False)
    first, second = create_app({"TESTING": True}), create_app({"TESTING": True})
    assert len(first.secret_key) >= 64 and first.secret_key != second.secret_key


def test_on_heroku_missing_settings_stop_the_app(monkeypatch):
    for name in ("SECRET_KEY", "SENDGRID_API_KEY", "MAIL_FROM", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DYNO", "web.1")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app({"TESTING": True})


def test_every_page_has_security_headers(client):
    response = client.get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_each_process_opens_its_redis_connection_as_it_starts(app, redis_conn):
    # gunicorn.conf.py's post_worker_init: a worker dyno sizing its pool to the plan counts this connection.
    before = len(redis_conn.client_list())
    app_resources.connect_now(app)
    assert len(redis_conn.client_list()) == before + 1


def test_an_app_create_app_did_not_build_has_no_connection_to_open(redis_conn):
    # bench/apps.py's bare Flask + RQ peer is served under the same gunicorn.conf.py.
    before = len(redis_conn.client_list())
    app_resources.connect_now(Flask(__name__))
    assert len(redis_conn.client_list()) == before
